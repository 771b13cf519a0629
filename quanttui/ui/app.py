"""The Textual console: one app around one session (live or replay).

Data flow: the session publishes on its stream; the app holds a *dropping* subscription whose
batches a worker folds into `LiveState` (cheap, no drawing), and a frame timer copies the state
onto the screen at a bounded rate. The load generator never waits for the UI, and the UI never
awaits the load generator: the session runs as its own asyncio task, which outlives the app so
`run_console` can stop it and await it (engines stop) whatever way the app ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from quanttui.core.events import ReplayReset
from quanttui.core.live import LiveState
from quanttui.core.triage import Tag
from quanttui.core.triage_state import TriageState
from quanttui.io.catalog_export import export_triage
from quanttui.io.session_thread import SessionThread
from quanttui.ui.export import FORMATS, write_export, write_report
from quanttui.ui.palette import palette_commands
from quanttui.ui.screens.compare import CompareScreen
from quanttui.ui.screens.help import HelpScreen
from quanttui.ui.screens.monitor import MonitorScreen
from quanttui.ui.screens.slo import SloScreen
from quanttui.ui.session_api import ConsoleSession, mode_of
from quanttui.ui.themes import DEFAULT_THEME, THEME_VARIABLE_DEFAULTS, default_theme_dirs, load_theme_dirs
from quanttui.ui.views import StatusView, status_view

LIVE_ACTIONS = {"start_ramp", "pause_ramp", "stop_ramp", "step_up", "step_down", "set_slo", "restart_engines"}
REPLAY_ACTIONS = {"pause_replay", "step", "seek", "speed"}
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
QUIT_GRACE_S = 60.0  # how long a quit waits for a stopped session before cancelling it


class QuanttuiApp(App[None]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "quanttui"
    BINDINGS = [
        Binding("s", "start_ramp", "Start"),
        Binding("p", "pause_ramp", "Pause"),
        Binding("x", "stop_ramp", "Stop"),
        Binding("plus", "step_up", "Conc+", key_display="+"),
        Binding("minus", "step_down", "Conc-", key_display="-"),
        Binding("l", "set_slo", "SLO"),
        Binding("space", "pause_replay", "Pause"),
        Binding("full_stop,n", "step", "Step", key_display="."),
        Binding("left", "seek(-10)", "-10s", key_display="←"),
        Binding("right", "seek(10)", "+10s", key_display="→"),
        Binding("left_square_bracket", "speed(-1)", "Slower", key_display="["),
        Binding("right_square_bracket", "speed(1)", "Faster", key_display="]"),
        Binding("R", "restart_engines", "Restart", show=False),
        Binding("c", "compare", "Compare"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        session: ConsoleSession,
        out_dir: Path,
        *,
        theme: str | None = None,
        theme_dirs: tuple[Path, ...] | None = None,
        refresh_hz: float = 8.0,
        plot_hz: float = 2.0,
        ui_queue: int = 50_000,
        start_session: bool = True,
        session_thread: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.mode = mode_of(session)
        self.out_dir = out_dir
        self.requested_theme = theme or DEFAULT_THEME
        self.theme_dirs = default_theme_dirs() if theme_dirs is None else theme_dirs
        self.refresh_hz = max(1.0, min(refresh_hz, 10.0))
        self.plot_interval = 1.0 / plot_hz
        self.start_session = start_session
        self.state = LiveState(session.plan, list(session.variants))
        self.triage = TriageState()
        self.state.set_hardware(getattr(getattr(session, "header", None), "config", None) or {})
        # Subscribe before the session starts publishing, so nothing from its start is missed.
        self.subscription = session.stream.subscribe("ui", policy="drop", maxsize=ui_queue)
        self.session_task: asyncio.Task[Any] | None = None
        # The session runs on its own thread and loop (see io/session_thread.py) unless a test
        # wants it on the app's loop.
        self.runner = SessionThread(session) if session_thread else None
        self.session_result: Any = None
        self.session_error: BaseException | None = None
        self.on_export: Callable[[], list[Path]] = self.export_now
        self.frames = 0
        self.fold_errors = 0
        self._shown: tuple[int, StatusView] | None = None
        self._plotted_version = -1
        self._last_plot = 0.0
        self._stopping = False

    # -- start-up ------------------------------------------------------------------------------
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(THEME_VARIABLE_DEFAULTS)

    def get_default_screen(self) -> Screen[Any]:
        return MonitorScreen(self.state.names())

    def on_mount(self) -> None:
        themes, errors = load_theme_dirs(self.theme_dirs)
        for theme in themes:
            self.register_theme(theme)
        for error in errors:
            self.notify(error, title="theme not loaded", severity="warning")
        if self.requested_theme in self.available_themes:
            self.theme = self.requested_theme
        self._load_journal()
        if getattr(self.session, "triage_only", False):
            self.push_screen(CompareScreen(self.triage))
        if self.start_session:
            self.session_task = asyncio.create_task(self._run_session(), name="quanttui-session")
        self.set_interval(1.0 / self.refresh_hz, self._frame, name="frame")

    def _fold_pending(self) -> None:
        """Fold whatever arrived since the last frame into the state (the subscription is polled:
        the session may publish from its own thread).

        An event the state cannot fold (a bug, or a newer event shape) is skipped and reported
        once: a monitor that stops updating would be worse than one that misses an event.
        """
        for event in self.subscription.drain():
            try:
                self.state.apply(event)
                self.triage.apply(event)
                if isinstance(event, ReplayReset):
                    self._load_journal()  # the operator's tags outlive a seek
            except Exception as exc:
                self.fold_errors += 1
                if self.fold_errors == 1:
                    self.notify(f"skipped an event it could not show: {exc!r}", severity="warning")

    def _frame(self) -> None:
        self._fold_pending()
        self.refresh_view()
        top = self.screen_stack[-1] if self.screen_stack else None  # empty while shutting down
        if isinstance(top, CompareScreen):
            top.show_state()

    def _load_journal(self) -> None:
        tagging = getattr(self.session, "tagging", None)
        if tagging is None:
            return
        try:
            self.triage.load_tags(tagging.loaded())
        except Exception as exc:
            self.notify(f"tags not loaded: {exc}", severity="error", timeout=30)

    # -- quality triage ------------------------------------------------------------------------
    def action_compare(self) -> None:
        if self.screen_stack and not isinstance(self.screen_stack[-1], CompareScreen):
            self.push_screen(CompareScreen(self.triage))

    def send_tag(self, tag: Tag) -> None:
        """Journaled (fsynced) on the session's thread before this returns; errors come back here."""
        args = (tag.prompt_id, tag.variant, tag.verdict, tag.symptom, tag.notes)
        if self.runner is not None:
            self.runner.submit(lambda: self.session.tag(*args))
        else:
            self.session.tag(*args)
        self._frame()

    def write_report(self) -> None:
        """capacity.md, cost_model.md, business_case.md and the CSVs, from the recording so far."""
        self._notify_paths(lambda: write_report(self.session, self.out_dir), "report")

    def export_catalog(self) -> None:
        self._notify_paths(
            lambda: export_triage(self.triage, self.out_dir, FORMATS, "Failure catalog"), "failure catalog"
        )

    def _notify_paths(self, write: Callable[[], list[Path]], what: str) -> None:
        try:
            paths = write()
        except Exception as exc:
            self.notify(f"{what} failed: {exc}", severity="error")
            return
        self.notify("\n".join(str(p) for p in paths), title=what)

    async def _run_session(self) -> Any:
        try:
            if self.runner is not None:
                self.session_result = await self.runner.run()
            else:
                self.session_result = await self.session.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown, kept for run_console's exit code; never swallowed silently
            self.session_error = exc
            self.notify(f"session failed: {exc}", title="quanttui", severity="error", timeout=60)
        return self.session_result

    def session_call(self, method: str, *args: object) -> None:
        """A command to the session, on the session's own thread when it has one."""
        fn = getattr(self.session, method)
        if self.runner is not None:
            self.runner.call(fn, *args)
        else:
            fn(*args)

    # -- frames --------------------------------------------------------------------------------
    @property
    def monitor(self) -> MonitorScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, MonitorScreen)
        return screen

    def elapsed(self) -> float:
        clock = getattr(self.session, "clock", None)
        if self.mode == "live" and clock is not None and not self.state.sweep_end:
            return max(self.state.now, clock.now())
        return self.state.now

    def status(self) -> StatusView:
        position = None
        if self.mode == "replay":
            position = (
                float(getattr(self.session, "position", self.state.now)),
                float(getattr(self.session, "duration", 0.0)),
                float(getattr(self.session, "speed", 1.0)),
            )
        return status_view(
            self.state,
            self.mode,
            self.elapsed(),
            paused=bool(getattr(self.session, "paused", False)),
            ramp_started=getattr(self.session, "ramp_started", None),
            position=position,
            dropped=self.subscription.dropped,
        )

    def refresh_view(self, force: bool = False) -> None:
        """Copy the state onto the monitor if anything changed; plots at most `plot_hz` times a second."""
        if not self.screen_stack or not isinstance(self.screen_stack[0], MonitorScreen):
            return  # starting up or shutting down
        if force:
            self._shown = None  # new widgets (after a recompose) start blank: draw everything
        monitor = self.monitor
        names = self.state.names()
        if names != monitor.names:
            self.run_worker(monitor.follow_variants(names), group="recompose", exclusive=True)
            return
        status = self.status()
        version = self.state.version
        now = time.monotonic()
        replot = version != self._plotted_version and (force or now - self._last_plot >= self.plot_interval)
        if not replot and self._shown == (version, status):
            return
        monitor.show_state(self.state, status, replot)
        self._shown = (version, status)
        self.frames += 1
        if replot:
            self._plotted_version, self._last_plot = version, now

    # -- keys ----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LIVE_ACTIONS:
            return self.mode == "live"
        if action in REPLAY_ACTIONS:
            return self.mode == "replay"
        return True

    def _control(self, method: str, *args: object) -> None:
        self.session_call(method, *args)
        self.refresh_view()

    def action_start_ramp(self) -> None:
        self._control("start_ramp")

    def action_pause_ramp(self) -> None:
        self._control("resume" if self.session.paused else "pause")

    action_pause_replay = action_pause_ramp

    def action_stop_ramp(self) -> None:
        self._control("stop")

    def action_restart_engines(self) -> None:
        if getattr(self.session, "restart_failed", None) is None:
            return
        self._control("restart_failed")
        self.notify("restarting failed engines; they rejoin the ramp at the next step", title="quanttui")

    def action_step_up(self) -> None:
        self._control("step_up")

    def action_step_down(self) -> None:
        self._control("step_down")

    def action_step(self) -> None:
        self._control("step")

    def action_seek(self, seconds: float) -> None:
        position = float(getattr(self.session, "position", 0.0))
        duration = float(getattr(self.session, "duration", position + abs(seconds)))
        self._control("seek", max(0.0, min(duration, position + seconds)))

    def action_speed(self, direction: int) -> None:
        """One notch along SPEEDS; a replay running as fast as possible (speed 0) is above them all."""
        speed = float(getattr(self.session, "speed", 1.0) or 0.0) or float("inf")
        faster = [s for s in SPEEDS if s > speed]
        slower = [s for s in SPEEDS if s < speed]
        if direction > 0:
            if not faster:
                return
            target = faster[0]
        else:
            target = slower[-1] if slower else SPEEDS[0]
        self._control("set_speed", target)

    def action_set_slo(self) -> None:
        def apply(value: float | None) -> None:
            if value is not None:
                self._control("set_slo", value)

        self.push_screen(SloScreen(self.state.slo_ms, self.state.slo_metric), apply)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.mode))

    async def action_quit(self) -> None:
        """Stop the session (engines stop), then leave; a second quit cancels it and leaves now."""
        task = self.session_task
        if task is None or task.done():
            self.exit()
            return
        if self._stopping:
            task.cancel()
            self.exit()
            return
        self._stopping = True
        stop = getattr(self.session, "stop", None)
        if stop is None:
            task.cancel()
        else:
            if self.mode == "live":
                self.notify("stopping the session and its engines… (q again to force)", title="quanttui")
            with contextlib.suppress(Exception):
                self.session_call("stop")
        self.run_worker(self._exit_when_stopped(task), group="quit")

    async def _exit_when_stopped(self, task: asyncio.Task[Any]) -> None:
        _, pending = await asyncio.wait({task}, timeout=QUIT_GRACE_S)
        if pending:
            task.cancel()
        self.exit()

    # -- commands ------------------------------------------------------------------------------
    def export_now(self) -> list[Path]:
        """Default `on_export`: the summary and sweep.csv so far (the session's own aggregator when it
        has one, as it never drops events; else the console's)."""
        aggregator = getattr(self.session, "aggregator", None) or self.state.aggregator
        return write_export(self.session.header.config, aggregator, self.out_dir, self.state.now)

    def action_export(self) -> None:
        try:
            # On the session's thread: its aggregator must not change while it is written out.
            paths = self.runner.submit(self.on_export) if self.runner is not None else self.on_export()
        except Exception as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify("\n".join(str(p) for p in paths), title="exported")

    def action_screenshot(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        name = f"quanttui-{self.mode}-t{int(self.state.now):05d}s.svg"
        path = self.save_screenshot(name, str(self.out_dir))
        self.notify(path, title="screenshot saved")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":  # ours writes into the out dir
                yield command
        yield from palette_commands(self)
