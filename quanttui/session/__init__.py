"""Wires a session: which collectors run, the stream, and its consumers.

A live sweep and a replay differ only in what publishes onto the stream (the runner, scrapers
and samplers, or the replayer); the aggregator and the summary are the same code for both.
`LiveSession` and `ReplaySession` are the one implementation: the headless commands run them
straight through (`run_sweep`, `run_launched_sweep`, `replay_headless`), the console drives them
(`quanttui.console_session`).
"""

from quanttui.session.live import LiveSession, run_launched_sweep, run_sweep
from quanttui.session.replay import ReplaySession, plan_from_header, replay_headless, variants_from_header
from quanttui.session.spec import EndpointSpec, SessionResult, SweepConfig, guess_precision, read_api_key
from quanttui.session.wiring import resolve_endpoints

__all__ = [
    "EndpointSpec",
    "LiveSession",
    "ReplaySession",
    "SessionResult",
    "SweepConfig",
    "guess_precision",
    "plan_from_header",
    "read_api_key",
    "replay_headless",
    "resolve_endpoints",
    "run_launched_sweep",
    "run_sweep",
    "variants_from_header",
]
