"""What the console (or any driver) can ask of a session: typed values, not method names.

A driver sends a command with `SessionHandle.send(command)` (session/handle.py); the session
applies it on its own loop (`LiveSession.handle` / `ReplaySession.handle`). A command a session
cannot act on (a replay asked to step up, a ramp asked to pause twice) changes nothing. Jobs
(exports, reports) run on the session's side too and answer with the files they wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from quanttui.core.triage import Tag


# -- the ramp (live) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class StartRamp:
    pass


@dataclass(frozen=True)
class StepUp:
    pass


@dataclass(frozen=True)
class StepDown:
    pass


@dataclass(frozen=True)
class SetSlo:
    p95_ms: float


@dataclass(frozen=True)
class RestartFailed:
    """Start again every launched engine that failed or stopped; each rejoins at the next step."""


# -- both ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class TogglePause:
    """Pause if running, resume if paused: decided by the session, so keys typed ahead of the
    screen (a slow SSH link) still alternate."""


@dataclass(frozen=True)
class Stop:
    """End the ramp (or the engines' start-up, a triage after its prompt, a replay).

    `engine_grace_s` shortens the engines' TERM-to-KILL grace (a hang-up must end within seconds)."""

    engine_grace_s: float | None = None


@dataclass(frozen=True)
class StartTriage:
    pass


@dataclass(frozen=True)
class ProfileVariants:
    """Profile one generation on each variant (the ramp pauses meanwhile; issue 18)."""


@dataclass(frozen=True)
class TagOutput:
    """The operator's verdict on one output: journaled (fsynced) before the send returns."""

    tag: Tag


# -- a replay ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetSpeed:
    speed: float | None  # None or 0: as fast as possible


@dataclass(frozen=True)
class StepOnce:
    """Publish exactly the next recorded event (pausing first)."""


@dataclass(frozen=True)
class Seek:
    t: float


@dataclass(frozen=True)
class SeekBy:
    """Seek relative to where the replay is now (clamped to the recording)."""

    seconds: float


@dataclass(frozen=True)
class SpeedStep:
    """One notch faster (+1) or slower (-1) along REPLAY_SPEEDS; "as fast as possible" is above all."""

    direction: int


REPLAY_SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


Command = (
    StartRamp | StepUp | StepDown | SetSlo | RestartFailed | Pause | Resume | TogglePause | Stop | StartTriage
    | ProfileVariants | TagOutput | SetSpeed | StepOnce | Seek | SeekBy | SpeedStep
)  # fmt: skip


# -- jobs: files written on the session's side, off the UI's thread --------------------------------
@dataclass(frozen=True)
class ExportSummary:
    """The summary JSON and sweep.csv as they stand now (never over the session's own sweep.csv)."""

    out_dir: Path


@dataclass(frozen=True)
class WriteReport:
    """capacity.md, cost_model.md, business_case.md and the CSVs, from the session's fold."""

    out_dir: Path


@dataclass(frozen=True)
class ExportCatalog:
    """failure_catalog.md / .csv / .json from the triage so far (with the journal's tags)."""

    out_dir: Path


Job = ExportSummary | WriteReport | ExportCatalog
