"""The sessions the console drives: a live sweep it starts and steers, or a recording it replays.

The UI only renders events and sends commands. It subscribes to `session.stream` (a dropping
subscription is fine: the load never waits for it), runs `await session.run()` as a task, and
calls the command methods from its key handlers: they are plain calls on the event loop's thread
that never await and never block. Each command of a live session is published (and recorded) as
an `OperatorCommand`; a replay republishes those, so a replayed console shows what the operator
did. Both classes are the headless commands' own implementation (`quanttui.session`), with the
console's defaults.

Live: `LiveConsoleSession(config, prompts, variants)` launches the variants' engines (or, with
`variants=None`, attaches to `config.endpoints`), then waits for `start_ramp()` unless
`autostart`. `stop()` ends the ramp (or the engines' start-up) and `run()` stops the engines and
returns; cancelling `run()`'s task (quit) does the same and marks the result interrupted.

Replay: `ReplayConsoleSession(path, speed)` publishes the recording with its original timing x
speed; `pause()`, `resume()`, `set_speed()`, `step()` (exactly the next event), `seek(t)` (forward:
everything up to t at once; backward: a `ReplayReset(t)`, then everything from the start up to t).
With `hold_at_end=True`, `run()` waits at the end of the recording for a seek or `stop()`.
"""

from __future__ import annotations

from pathlib import Path

from quanttui.session import LiveSession, ReplaySession, SessionResult

__all__ = ["LiveConsoleSession", "ReplayConsoleSession", "SessionResult"]


class LiveConsoleSession(LiveSession):
    """Launches engines from variants (or attaches to endpoints), then waits for start_ramp() (or
    starts at once if autostart), drives the ramp, records everything; the UI subscribes to .stream.

    Attributes: stream, clock, header (an attached session's endpoint models are filled in once
    run() has asked the endpoints), plan, variants (names in display order, known before engines
    start), kind = "live". Commands: start_ramp, pause, resume, stop, step_up, step_down,
    set_slo(p95_ms); properties paused, ramp_started. A command that changes nothing is ignored.
    """

    kind = "live"


class ReplayConsoleSession(ReplaySession):
    """Publishes a recording's events onto .stream with original timing x speed; pause/step/seek.

    Attributes: stream, header, plan (from the header, may be None), variants (from the header's
    variants or endpoints), kind = "replay", duration (t of the last event, read at open).
    Properties: position (t of the last published event), paused, speed (0.0: as fast as possible),
    at_end. Commands: pause, resume, set_speed(x), step, seek(t), stop.
    """

    kind = "replay"

    def __init__(self, path: Path, speed: float | None = 1.0, *, hold_at_end: bool = False) -> None:
        super().__init__(path, speed, hold_at_end=hold_at_end)
