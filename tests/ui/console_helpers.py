"""Helpers for the console tests: the real sessions, and waiting on what they say.

Every console test drives a real session through a `SessionHandle`: a `ReplaySession` of the UI
recording (tests/data/recordings/ui-sim.jsonl) replayed as fast as possible and held at its end,
or a copy of it changed for one test (`recording_copy`: cut at a time, extra events merged in by
time, another variant list in the header); or a `LiveSession` attached to simulated servers
(`live_config`). Tests wait on conditions (`wait_until`, `settle`), never for a fixed time, and
read what a session did from its own stream (`Seen`) or its recording file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from session_helpers import attach_config

from quanttui.core.decisions import look_plan
from quanttui.core.events import (
    EndpointInfo,
    Event,
    HostSample,
    InstanceState,
    OperatorCommand,
    RampStatus,
    ReplayStatus,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.recording import SCHEMA_VERSION, encode_event
from quanttui.core.stream import SessionStream
from quanttui.io.recording_file import read_recording
from quanttui.session import ReplaySession, SweepConfig
from quanttui.session.commands import Pause, Resume
from quanttui.session.handle import DrivableSession, SessionHandle
from quanttui.ui import app as app_module
from quanttui.ui.app import QuanttuiApp
from quanttui.ui.run import finish_session
from quanttui.ui.screens.monitor import NARROW_BELOW, SHORT_BELOW, MonitorScreen

UI_RECORDING = Path(__file__).parents[1] / "data" / "recordings" / "ui-sim.jsonl"
SHIPPED_TRIAGE = Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-triage.jsonl"

E = TypeVar("E", bound=Event)


# -- recordings -----------------------------------------------------------------------------------
def recording_copy(
    tmp_path: Path,
    *,
    until: float | None = None,
    extra: Iterable[Event] = (),
    variants: Sequence[str] | None = None,
    source: Path = UI_RECORDING,
    name: str = "ui-sim.jsonl",
) -> Path:
    """A copy of `source` in tmp_path: events after `until` left out, `extra` merged in by time
    (after recorded events of the same t), and with `variants` as the header's variant list
    (names; the recorded entries of those names are kept, new names get a bare entry)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    if variants is not None:
        known = {v["name"]: v for v in header["config"].get("variants", [])}
        header["config"]["variants"] = [known.get(n, {"name": n}) for n in variants]
    pending = sorted(extra, key=lambda e: e.t)
    out = [json.dumps(header, separators=(",", ":"))]
    for line in lines[1:]:
        t = json.loads(line)["t"]
        if until is not None and t > until:
            continue
        while pending and pending[0].t < t:
            out.append(encode_event(pending.pop(0)))
        out.append(line)
    out += [encode_event(e) for e in pending]
    path = tmp_path / name
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


DECIDED_PLAN = LoadPlan(concurrencies=(1, 2, 4, 8), requests_per_step=100, slo=Slo(800.0))


def decided_recording(tmp_path: Path, *, until: float | None = None, busy_step: int | None = 1) -> Path:
    """A schema-3 recording whose steps are long enough to decide (100 measured requests, one
    look at the end): bf16 meets the 800 ms SLO at c=1 and 2 and breaches at 4; awq meets up to 4
    and breaches at 8 (each retires at its breach). Other processes keep the host busy during
    `busy_step`. Step k runs from t = 1 + 2k to 2.8 + 2k."""
    plan = DECIDED_PLAN
    header = json.loads(UI_RECORDING.read_text(encoding="utf-8").splitlines()[0])
    header["schema"] = SCHEMA_VERSION
    header["config"]["plan"] = plan.to_dict()
    events: list[Event] = []
    for name in ("bf16", "awq"):
        events += [
            EndpointInfo(t=0.1, variant=name, url=f"http://{name}", model=f"smol-{name}", precision=name),
            InstanceState(t=0.2, variant=name, state="ready"),
        ]
    breach_at = {"bf16": 4, "awq": 8}
    active = ["bf16", "awq"]
    for step, conc in enumerate(plan.concurrencies):
        t0 = 1.0 + 2 * step
        looks = look_plan(plan, conc, 2)
        events.append(StepStarted(
            t=t0, step=step, concurrency=conc, requests=100, seconds=None, warmup_requests=0,
            variants=tuple(active), looks=looks.looks, alpha_meets=looks.alpha_meets,
            alpha_breach=looks.alpha_breach, confidence=plan.confidence,
        ))  # fmt: skip
        if step == busy_step:
            events += [
                HostSample(t=t0 + 0.5 * i, cpu_pct=300.0, others_cpu_pct=150.0, cores=4) for i in (1, 2)
            ]
        for i in range(100):
            t = t0 + 0.01 + i * 0.0175
            for name in active:
                e2e = (1.2 if conc >= breach_at[name] else 0.3) + (i % 10) * 0.02
                events.append(RequestResult(
                    t=t, variant=name, step=step, index=i, warmup=False, start=t - e2e, ok=True, ttft=0.05,
                    e2e=e2e, itl_us=(10_000,) * 9, output_tokens=10,
                ))  # fmt: skip
        events.append(StepFinished(t=t0 + 1.8, step=step))
        for name in [n for n in active if conc >= breach_at[n]]:
            events.append(VariantRetired(t=t0 + 1.8, variant=name, step=step, rule="slo", detail="breach"))
            active.remove(name)
    events.append(SweepFinished(t=9.0, reason="completed"))
    lines = [json.dumps(header, separators=(",", ":"))]
    lines += [encode_event(e) for e in events if until is None or e.t <= until]
    path = tmp_path / "decided.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def recorded_events(path: Path) -> list[Event]:
    """Every event of a recording file (a session's recording.jsonl after it ended)."""
    return read_recording(path)[1]


def commands_in(events: Iterable[Event]) -> list[tuple[str, float | None]]:
    return [(e.command, e.value) for e in events if isinstance(e, OperatorCommand)]


def ramp_states_in(events: Iterable[Event]) -> list[str]:
    return [e.state for e in events if isinstance(e, RampStatus)]


# -- sessions and the app -------------------------------------------------------------------------
def replay_session(path: Path = UI_RECORDING) -> ReplaySession:
    """The replay the console opens, as fast as possible and held at its end (for seeks); it
    starts paused, and `settle` lets it play once the monitor screen is mounted.

    Why held: a replay this short can be over before the monitor screen is mounted, and a frame
    drawn then is taken as plotted (QuanttuiApp.refresh_view sets `_plotted_version` even when
    the screen skipped the plots), so the plots could stay blank at the end (a console bug,
    reported; see test_plots_are_drawn_after_the_screen_rebuilds_its_widgets)."""
    session = ReplaySession(path, speed=None, hold_at_end=True)
    session.handle(Pause())  # before it runs: it publishes ReplayStatus(paused) first, then waits
    return session


class ConsoleApp(QuanttuiApp):
    """The console as shipped, noting every notification it shows (they expire on screen)."""

    CSS_PATH = Path(app_module.__file__).parent / QuanttuiApp.CSS_PATH  # relative to the subclass's file else

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.told: list[tuple[str, str, str]] = []  # (title, message, severity)

    def notify(self, message: str, *, title: str = "", severity: Any = "information", **kw: Any) -> None:
        self.told.append((title, str(message), str(severity)))
        super().notify(message, title=title, severity=severity, **kw)


def console(
    session: DrivableSession, out_dir: Path, *, own_thread: bool = False, **options: Any
) -> ConsoleApp:
    return ConsoleApp(SessionHandle(session, own_thread=own_thread), out_dir, **options)


@contextlib.asynccontextmanager
async def running(app: QuanttuiApp, size: tuple[int, int]) -> AsyncIterator[Any]:
    """The app under Pilot; afterwards its session is stopped and awaited (a replay held at its
    end, or a live session, would otherwise outlive the test)."""
    try:
        async with app.run_test(size=size) as pilot:
            yield pilot
    finally:
        await finish_session(app, grace_s=10)


def replay_app(
    out_dir: Path, path: Path = UI_RECORDING, *, own_thread: bool = False, **options: Any
) -> ConsoleApp:
    return console(replay_session(path), out_dir, own_thread=own_thread, **options)


def live_config(tmp_path: Path, servers: dict[str, Any], plan: LoadPlan, max_tokens: int = 4) -> SweepConfig:
    """An attached sweep of simulated servers ({name: SimServer}), recording into tmp_path."""
    return attach_config(tmp_path, servers, plan, max_tokens)


class Seen:
    """Every event a session publishes, in order: a buffering subscription made before it runs,
    drained on demand (safe while the session publishes on its own thread)."""

    def __init__(self, stream: SessionStream) -> None:
        self.subscription = stream.subscribe("test", policy="buffer")
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        self._events += self.subscription.drain()
        return self._events

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    def commands(self) -> list[tuple[str, float | None]]:
        return commands_in(self.events)

    def ramp_states(self) -> list[str]:
        return ramp_states_in(self.events)

    def replay_statuses(self) -> list[ReplayStatus]:
        return self.of(ReplayStatus)

    def replayed(self) -> list[Event]:
        """What a replay published of its recording (its own ReplayStatus events left out)."""
        return [e for e in self.events if not isinstance(e, ReplayStatus)]


# -- waiting ---------------------------------------------------------------------------------------
async def wait_until(
    pilot: Any, predicate: Callable[[], object], timeout: float = 30.0, what: str = ""
) -> None:
    """Let the app run until `predicate()` holds; fails after `timeout` seconds.

    It polls with a plain sleep on the app's loop, not `pilot.pause()`: that waits for every
    widget of the screen to process a message, and hangs when a widget is removed meanwhile (the
    Compare screen rebuilds its answer panes while it opens)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def settled(app: QuanttuiApp) -> bool:
    """The replay said it is at its end, the app folded everything, the columns follow the state."""
    replay = app.state.replay
    return (
        replay is not None
        and replay.at_end
        and not app.subscription.pending
        and not app.monitor.recomposing
        and app.monitor.names == app.state.names()
    )


async def redraw(app: QuanttuiApp, pilot: Any) -> None:
    """Fold what is queued and draw the state now (the frame timer would, a little later)."""
    app.fold_pending()
    app.refresh_view(force=True)
    await pilot.pause()


def laid_out(app: QuanttuiApp) -> bool:
    """The monitor screen is mounted and fitted to the terminal (its size classes set)."""
    stack = app.screen_stack
    if not stack or not isinstance(stack[0], MonitorScreen) or not stack[0].is_mounted:
        return False
    monitor, (width, height) = stack[0], app.size
    return (
        monitor.size == app.size
        and monitor.has_class("-narrow") == (width < NARROW_BELOW)
        and monitor.has_class("-short") == (height < SHORT_BELOW)
    )


async def play(app: QuanttuiApp, pilot: Any, timeout: float = 30.0) -> None:
    """Let a replay held at its start (`replay_session`) play, once the monitor screen is laid out."""
    await wait_until(
        pilot, lambda: laid_out(app) and app.state.replay is not None, timeout, "the monitor and the replay"
    )
    await pilot.pause()  # the layout follows the size classes
    replay = app.state.replay
    if replay.paused and not replay.at_end and replay.position == 0 and app.state.events == 0:
        app.send(Resume())


async def settle(app: QuanttuiApp, pilot: Any, timeout: float = 30.0) -> None:
    """Let the replay play, wait until it is at its end and everything is folded and shown, then
    redraw."""
    await play(app, pilot, timeout)
    await wait_until(pilot, lambda: settled(app), timeout, "the replay at its end, everything folded")
    await redraw(app, pilot)
