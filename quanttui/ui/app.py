"""The Textual console: one app around one session (live or replay), held by a `SessionHandle`.

Data flow: the session publishes on its stream (on its own thread); the app's `StreamBridge`
folds what arrives into `LiveState` and `TriageState` when an `EventsPending` message comes (they
merge under bursts), and a frame timer copies the state onto the screen at a bounded rate. Keys
become typed commands (ui/controls.py) sent through the handle; exports and reports are session
jobs whose outcome comes back as a `JobDone` message. The app never reads the session's
attributes while it runs: what it shows is what the stream said.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import constants, events
from textual.app import App, SystemCommand
from textual.driver import Driver
from textual.message import Message
from textual.screen import Screen
from textual.theme import Theme

from quanttui.core.live import LiveState
from quanttui.core.triage import Tag
from quanttui.core.triage_state import TriageState
from quanttui.session.commands import (
    Command,
    ExportCatalog,
    ExportSummary,
    Job,
    ProfileVariants,
    StartTriage,
    Stop,
    TagOutput,
    WriteReport,
)
from quanttui.session.handle import SessionHandle
from quanttui.ui import controls
from quanttui.ui.bridge import EventsPending, StreamBridge
from quanttui.ui.keys import APP_BINDINGS, KeyActions
from quanttui.ui.palette import palette_commands
from quanttui.ui.screens.compare import CompareScreen
from quanttui.ui.screens.compute import ComputeScreen
from quanttui.ui.screens.dialog import KeyDialog
from quanttui.ui.screens.fleet import FleetScreen
from quanttui.ui.screens.monitor import MonitorScreen
from quanttui.ui.settings import ThemeMemory, settings_path
from quanttui.ui.themes import DEFAULT_THEME, THEME_VARIABLE_DEFAULTS, default_theme_dirs, load_theme_dirs
from quanttui.ui.views import StatusView, status_view

QUIT_GRACE_S = 60.0  # how long a quit waits for a stopped session before cancelling it
TAG_TIMEOUT_S = 30.0  # how long a tag may take to reach the journal before the operator is told


class JobDone(Message):
    """A session job finished: the files it wrote, or why it failed."""

    def __init__(self, what: str, paths: list[Path], error: str | None) -> None:
        super().__init__()
        self.what, self.paths, self.error = what, paths, error


class QuanttuiApp(KeyActions, App[None]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "quanttui"
    BINDINGS = APP_BINDINGS  # ui/keys.py; Help and Quit lead each screen's own

    def __init__(
        self,
        handle: SessionHandle,
        out_dir: Path,
        *,
        theme: str | None = None,
        theme_dirs: tuple[Path, ...] | None = None,
        settings_file: Path | None = None,
        refresh_hz: float = 8.0,
        plot_hz: float = 2.0,
        ui_queue: int = 50_000,
        start_session: bool = True,
    ) -> None:
        super().__init__()
        self.handle = handle
        self.info = handle.info
        self.mode = self.info.mode
        self.out_dir = out_dir
        self.requested_theme = theme  # None: the remembered one (ui/settings.py), else DEFAULT_THEME
        self.settings_path = settings_path() if settings_file is None else settings_file
        self.theme_dirs = default_theme_dirs() if theme_dirs is None else theme_dirs
        self.refresh_hz = max(1.0, min(refresh_hz, 10.0))
        self.plot_interval = 1.0 / plot_hz
        self.start_session = start_session
        self.state = LiveState(self.info.plan, list(self.info.variants))
        self.state.set_hardware(self.info.header.config or {})
        self.triage = TriageState()
        # Subscribe before the session starts publishing, so nothing from its start is missed.
        self.bridge = StreamBridge(
            handle.subscribe("ui", maxsize=ui_queue), self.state, self.triage, self.info.load_tags
        )
        self.session_task: asyncio.Task[Any] | None = None
        self.session_result: Any = None
        self.session_error: BaseException | None = None
        self.frames = 0
        self._shown: tuple[int, StatusView] | None = None
        self._plotted_version = -1
        self._last_plot = 0.0
        self._last_running = 0.0
        self._stopping = False
        self._fold_errors_told = 0
        self._sent: list[concurrent.futures.Future[None]] = []  # keys' commands not yet applied
        self.written: list[Path] = []  # files the operator's jobs wrote, named again on exit

    @property
    def subscription(self) -> Any:
        return self.bridge.subscription

    # -- start-up ------------------------------------------------------------------------------
    def get_driver_class(self) -> type[Driver]:
        """On a Linux/macOS terminal, Textual's driver with an output thread that survives a
        hang-up (ui/terminal.py); TEXTUAL_DRIVER and other platforms as Textual decides."""
        driver = super().get_driver_class()
        if driver.__name__ != "LinuxDriver" or constants.DRIVER:
            return driver
        from quanttui.ui.terminal import HangupSafeDriver  # imports termios: POSIX only

        return HangupSafeDriver

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
        self._start_theme()
        self._load_journal()
        self.bridge.connect(self.post_message)
        if self.info.triage_only:
            self.push_screen(CompareScreen(self.triage, self.state))
        if self.start_session:
            self.session_task = asyncio.create_task(self._run_session(), name="quanttui-session")
        self.set_interval(1.0 / self.refresh_hz, self._frame, name="frame")

    async def _run_session(self) -> Any:
        try:
            self.session_result = await self.handle.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown, kept for run_console's exit code; never swallowed silently
            self.session_error = exc
            self.notify(f"session failed: {exc}", title="quanttui", severity="error", timeout=60)
        self.post_message(EventsPending())  # the stream closed: fold its last events
        return self.session_result

    def _start_theme(self) -> None:
        """The asked-for, else remembered, else default theme; later choices are remembered."""
        memory = ThemeMemory(self.settings_path, self.requested_theme, DEFAULT_THEME)
        for warning in memory.warnings:
            self.notify(warning, title="settings not read", severity="warning")
        name = memory.start
        if name not in self.available_themes:
            self.notify(f"theme {name!r} is not installed: {DEFAULT_THEME}", severity="warning")
            name = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else self.theme
        self.theme = name
        memory.started_with(name)

        def chose(theme: Theme) -> None:
            if (problem := memory.chose(theme.name)) is not None:
                self.notify(problem, severity="warning")

        self.theme_changed_signal.subscribe(self, chose)

    def _load_journal(self) -> None:
        try:
            self.bridge.load_journal()
        except Exception as exc:
            self.notify(f"tags not loaded: {exc}", severity="error", timeout=30)

    # -- keys ----------------------------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        """A dialog on top reads each key here, in the app's task, before any binding: typed-ahead
        keys land in order and the key after the one that closes it meets the screen beneath."""
        if isinstance(event, events.Key) and not event.is_forwarded and self.screen_stack:
            top = self.screen_stack[-1]
            if isinstance(top, KeyDialog):
                top.read_key(event)
                return
        await super().on_event(event)

    # -- the stream ----------------------------------------------------------------------------
    def on_events_pending(self, _message: EventsPending) -> None:
        self.fold_pending()

    def fold_pending(self) -> int:
        folded = self.bridge.fold_pending()
        if self.bridge.fold_errors and not self._fold_errors_told:
            self._fold_errors_told = 1
            self.notify(f"skipped an event it could not show: {self.bridge.first_error}", severity="warning")
        return folded

    @property
    def fold_errors(self) -> int:
        return self.bridge.fold_errors

    def _frame(self) -> None:
        self.fold_pending()
        self.refresh_view()
        top = self.screen_stack[-1] if self.screen_stack else None  # empty while shutting down
        if isinstance(top, CompareScreen | ComputeScreen | FleetScreen):
            top.show_state()

    # -- commands and jobs ---------------------------------------------------------------------
    def send(self, command: Command) -> concurrent.futures.Future[None]:
        """A typed command to the session; a failure is shown, never lost."""
        future = self.handle.send(command)
        future.add_done_callback(lambda f: self._command_failed(command, f))
        self.refresh_view()
        return future

    def _command_failed(self, command: Command, future: concurrent.futures.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.post_message(JobDone(type(command).__name__, [], str(future.exception())))

    def send_tag(self, tag: Tag) -> None:
        """Journaled (fsynced) on the session's side before this returns; errors are raised here."""
        self.handle.send(TagOutput(tag)).result(TAG_TIMEOUT_S)
        self._frame()

    def start_triage(self) -> None:
        self.send(StartTriage())

    def profile_variants(self) -> None:
        self.send(ProfileVariants())

    def profile_from_palette(self) -> None:
        """The palette's "Profile variants": the Compute screen, then its `r`."""
        if not isinstance(self.screen, ComputeScreen):
            self.action_compute()
        self.call_after_refresh(
            lambda: self.screen.action_profile() if isinstance(self.screen, ComputeScreen) else None
        )

    def run_job(self, job: Job, what: str) -> None:
        future = self.handle.job(job)

        def done(f: concurrent.futures.Future[list[Path]]) -> None:
            error = None if f.cancelled() or f.exception() is None else str(f.exception())
            self.post_message(JobDone(what, [] if error else f.result(), error))

        future.add_done_callback(done)

    def on_job_done(self, message: JobDone) -> None:
        self.written.extend(p for p in message.paths if p not in self.written)
        if message.error is not None:
            self.notify(f"{message.what} failed: {message.error}", severity="error", timeout=30)
        else:
            self.notify(written_words(message.paths), title=message.what)

    def action_export(self) -> None:
        self.run_job(ExportSummary(self.out_dir), "exported")

    def write_report(self) -> None:
        self.run_job(WriteReport(self.out_dir), "report")

    def export_catalog(self) -> None:
        self.run_job(ExportCatalog(self.out_dir), "failure catalog")

    # -- frames --------------------------------------------------------------------------------
    @property
    def monitor(self) -> MonitorScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, MonitorScreen)
        return screen

    def elapsed(self) -> float:
        clock = self.info.clock
        if self.mode == "live" and clock is not None and not self.state.sweep_end:
            return max(self.state.now, clock.now())
        return self.state.now

    def status(self) -> StatusView:
        replay = self.state.replay
        position = None
        if self.mode == "replay":
            position = (
                self.state.now,  # t of the last event shown (a ReplayStatus is sent on changes only)
                replay.duration if replay else self.info.duration,
                replay.speed if replay else 1.0,
            )
        ramp = self.state.ramp_state
        return status_view(
            self.state,
            self.mode,
            self.elapsed(),
            paused=controls.is_paused(self.state, self.mode),
            ramp_started=None if ramp is None else ramp != "waiting",
            position=position,
            dropped=self.bridge.dropped,
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
        now = time.monotonic()
        # The open step's statistics so far (O(n log n) each): one variant a frame, each at most
        # at the plot rate, never per event.
        if force or now - self._last_running >= self.plot_interval / max(1, len(names)):
            self.state.refresh_running(None if force else 1)
            self._last_running = now
        status = self.status()
        version = self.state.version
        replot = force or (version != self._plotted_version and now - self._last_plot >= self.plot_interval)
        if not replot and self._shown == (version, status):
            return
        if not monitor.show_state(self.state, status, replot):
            return  # skipped: the next frame tries again
        self._shown = (version, status)
        self.frames += 1
        if replot:
            self._plotted_version, self._last_plot = version, now

    # -- keys (the rest: ui/keys.py) -------------------------------------------------------------
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
        if self.mode == "live":
            self.notify("stopping the session and its engines… (q again to force)", title="quanttui")
        self.send(Stop())
        self.run_worker(self._exit_when_stopped(task), group="quit")

    async def _exit_when_stopped(self, task: asyncio.Task[Any]) -> None:
        _, pending = await asyncio.wait({task}, timeout=QUIT_GRACE_S)
        if pending:
            task.cancel()
        self.exit()

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


def written_words(paths: list[Path]) -> str:
    """The files a job wrote: a report's page first, with the count of the files beside it (a
    notice at 80x24 has no room for every path)."""
    page = next((p for p in paths if p.name == "report.html"), None)
    if page is None or len(paths) < 3:
        return "\n".join(str(p) for p in paths)
    return f"{page}\nand {len(paths) - 1} more files beside it (markdown, CSV, JSON; PNGs in charts/)"
