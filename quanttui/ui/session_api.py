"""What the console needs from a session: the attributes and controls it reads and calls.

The session objects live in `quanttui.console_session`; the console only relies on these
protocols, so it can be driven (and tested) by anything shaped the same way.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from quanttui.core.loadplan import LoadPlan
from quanttui.core.recording import RecordingHeader
from quanttui.core.stream import SessionStream

Mode = Literal["live", "replay"]


@runtime_checkable
class ConsoleSession(Protocol):
    kind: str
    stream: SessionStream
    header: RecordingHeader
    plan: LoadPlan | None
    variants: list[str]
    paused: bool

    async def run(self) -> Any: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...


class LiveControls(ConsoleSession, Protocol):
    ramp_started: bool

    def start_ramp(self) -> None: ...
    def stop(self) -> None: ...
    def step_up(self) -> None: ...
    def step_down(self) -> None: ...
    def set_slo(self, p95_ms: float) -> None: ...


class ReplayControls(ConsoleSession, Protocol):
    position: float
    duration: float
    speed: float

    def set_speed(self, x: float) -> None: ...
    def step(self) -> None: ...
    def seek(self, t: float) -> None: ...


def mode_of(session: ConsoleSession) -> Mode:
    return "replay" if getattr(session, "kind", "live") == "replay" else "live"
