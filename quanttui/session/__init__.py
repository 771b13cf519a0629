"""The session runtime: what publishes onto the stream, the fold it feeds, and how a driver steers it.

A live sweep and a replay differ only in what publishes onto the stream (the runner, scrapers
and samplers, or the replayer); the fold (core/fold.py) and the summary are the same code for
both. `LiveSession` and `ReplaySession` are the one implementation: the headless commands run
them straight through (`run_sweep`, `run_launched_sweep`, `replay_headless`), the console drives
them through a `SessionHandle` (handle.py: the session on its own thread, typed commands in).
"""

from quanttui.session.headless import run_launched_sweep, run_sweep
from quanttui.session.live import LiveSession
from quanttui.session.replay import ReplaySession, replay_headless, variants_from_header
from quanttui.session.spec import (
    EndpointSpec,
    SessionInfo,
    SessionResult,
    SweepConfig,
    guess_precision,
    read_api_key,
)
from quanttui.session.wiring import resolve_endpoints

__all__ = [
    "EndpointSpec",
    "LiveSession",
    "ReplaySession",
    "SessionInfo",
    "SessionResult",
    "SweepConfig",
    "guess_precision",
    "read_api_key",
    "replay_headless",
    "resolve_endpoints",
    "run_launched_sweep",
    "run_sweep",
    "variants_from_header",
]
