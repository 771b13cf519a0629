"""Stand-ins for the console sessions (quanttui.console_session), fed from a recording.

They have the attributes and controls the console relies on (quanttui.ui.session_api), publish a
recording's events onto a real SessionStream as fast as possible, and note every control call,
so tests can assert both on what the console shows and on what it asked the session to do.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from quanttui.core.events import Event
from quanttui.core.loadplan import LoadPlan
from quanttui.core.stream import SessionStream
from quanttui.io.recording_file import open_recording

UI_RECORDING = Path(__file__).parent / "data" / "recordings" / "ui-sim.jsonl"


# Events the session engineer adds to core.events; the console reads them by class name.
@dataclass(frozen=True)
class OperatorCommand(Event):
    command: str
    value: float | str | None = None


@dataclass(frozen=True)
class ReplayReset(Event):
    pass


@dataclass(frozen=True)
class ProcessSample(Event):
    variant: str
    rss_mib: float
    cpu_pct: float | None
    pids: int


@dataclass
class SessionResult:
    """The part of quanttui.session.SessionResult the console reads."""

    summary: dict
    interrupted: bool = False


def variants_of(config: dict) -> list[str]:
    entries = config.get("variants") or config.get("endpoints") or []
    return [e["name"] for e in entries]


class FixedClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


class _FromRecording:
    def __init__(
        self, path: Path = UI_RECORDING, extra: list[Event] | None = None, until: float | None = None
    ) -> None:
        recording, events = open_recording(path)
        self.header = recording.header
        plan = recording.header.config.get("plan")
        self.plan = LoadPlan.from_dict(plan) if plan else None
        self.events = [e for e in events if until is None or e.t <= until] + list(extra or [])
        self.variants = variants_of(recording.header.config)
        self.stream = SessionStream()
        self.paused = False
        self.calls: list[tuple] = []
        self.published = 0

    async def publish_all(self) -> None:
        for i, event in enumerate(self.events):
            self.stream.publish(event)
            self.published += 1
            if i % 128 == 0:
                await asyncio.sleep(0)

    def pause(self) -> None:
        self.calls.append(("pause",))
        self.paused = True

    def resume(self) -> None:
        self.calls.append(("resume",))
        self.paused = False


class FakeReplaySession(_FromRecording):
    kind = "replay"

    def __init__(
        self,
        path: Path = UI_RECORDING,
        extra: list[Event] | None = None,
        until: float | None = None,
        hold_at_end: bool = False,
    ) -> None:
        super().__init__(path, extra, until)
        self.speed = 1.0
        self.duration = self.events[-1].t
        self.position = 0.0
        self.hold_at_end = hold_at_end
        self._stopped = asyncio.Event()

    async def run(self) -> SessionResult:
        await self.publish_all()
        self.position = self.duration
        if self.hold_at_end:  # like the real one: wait at the end for a seek or stop()
            await self._stopped.wait()
        self.stream.close()
        return SessionResult(summary={})

    def stop(self) -> None:
        self.calls.append(("stop",))
        self._stopped.set()

    def set_speed(self, x: float) -> None:
        self.calls.append(("set_speed", x))
        self.speed = x

    def step(self) -> None:
        self.calls.append(("step",))

    def seek(self, t: float) -> None:
        self.calls.append(("seek", t))
        if t < self.position:  # like the real one: reset, then republish up to t
            self.stream.publish(ReplayReset(t=t))
            for event in self.events:
                if event.t > t:
                    break
                self.stream.publish(event)
        self.position = t


class FakeLiveSession(_FromRecording):
    """Publishes the recording, then runs until stop(), like a live console session."""

    kind = "live"

    def __init__(
        self, path: Path = UI_RECORDING, extra: list[Event] | None = None, until: float | None = None
    ):
        super().__init__(path, extra, until)
        self.clock = FixedClock(self.events[-1].t)
        self.ramp_started = False
        self._stopped = asyncio.Event()

    async def run(self) -> SessionResult:
        await self.publish_all()
        await self._stopped.wait()
        self.stream.close()
        return SessionResult(summary={}, interrupted=False)

    def start_ramp(self) -> None:
        self.calls.append(("start_ramp",))
        self.ramp_started = True

    def stop(self) -> None:
        self.calls.append(("stop",))
        self._stopped.set()

    def step_up(self) -> None:
        self.calls.append(("step_up",))

    def step_down(self) -> None:
        self.calls.append(("step_down",))

    def set_slo(self, p95_ms: float) -> None:
        self.calls.append(("set_slo", p95_ms))
        self.stream.publish(OperatorCommand(t=self.clock.now(), command="set_slo", value=p95_ms))


async def settle(app, pilot) -> None:
    """Wait until the session published everything and the app folded it, then draw one frame."""
    session = app.session
    while session.published < len(session.events) or app.subscription.pending:
        await pilot.pause()
    # A batch may still be folding, or the monitor recomposing for a new variant (under CPU load
    # these take longer than one pause): redraw until the state stops changing.
    last = None
    for _ in range(40):
        await pilot.pause(0.02)
        if getattr(app.monitor, "recomposing", False):
            continue
        app.refresh_view(force=True)
        await pilot.pause()
        seen = (app.state.version, tuple(app.state.names()), tuple(app.monitor.names))
        if seen == last and seen[1] == seen[2]:
            break
        last = seen
