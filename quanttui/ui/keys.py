"""The console's key bindings and the app's key actions, honest in every state.

The monitor and Compare screens start their bindings with Help and Quit (screens/help.py
`HELP_AND_QUIT`), so a narrow footer never cuts them. A key acts, or says why it cannot (a notification from `controls.refusal`), in every
state where the help lists it; the help itself is made from these bindings (screens/help.py).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from textual.binding import Binding

from quanttui.core.live import LiveState
from quanttui.session.commands import Command, RestartFailed, SetSlo
from quanttui.session.spec import SessionInfo
from quanttui.ui import controls
from quanttui.ui.screens.compare import CompareScreen
from quanttui.ui.screens.compute import ComputeScreen
from quanttui.ui.screens.fleet import FleetScreen
from quanttui.ui.screens.help import HelpScreen, help_rows
from quanttui.ui.screens.monitor import MonitorScreen
from quanttui.ui.screens.slo import SloScreen

# Every app key is a priority binding: acted on as the app dispatches it, in the order typed (a
# non-priority key is acted on later, after the focused widget saw it, so `+ l 3000 enter` or an
# escape typed right after `c` could act out of order or be lost). Under a dialog (any modal:
# tag, SLO, help, the palette) they are off, so the dialog gets the key, as text where it types.
APP_BINDINGS = [replace(b, priority=True) for b in [
    Binding("s", "start_ramp", "Start"),
    Binding("p", "pause_ramp", "Pause"),
    Binding("x", "stop_ramp", "Stop"),
    Binding("plus", "step_up", "Load+", key_display="+"),  # users, req/s or prompt tokens
    Binding("minus", "step_down", "Load-", key_display="-"),
    Binding("l", "set_slo", "SLO"),
    Binding("space", "pause_replay", "Pause"),
    Binding("full_stop,n", "step", "Step", key_display="."),
    Binding("left", "seek(-10)", "-10s", key_display="←"),
    Binding("right", "seek(10)", "+10s", key_display="→"),
    Binding("left_square_bracket", "speed(-1)", "Slow", key_display="["),
    Binding("right_square_bracket", "speed(1)", "Fast", key_display="]"),
    Binding("R", "restart_engines", "Restart", show=False),
    Binding("c", "compare", "Compare"),
    Binding("g", "compute", "Compute", show=False),  # in the help; the 80-column footer is full
    Binding("F", "fleet", "Fleet", show=False),  # f filters the Compare screen
]]  # fmt: skip
# Textual's own palette key, listed by the help like the others.
PALETTE = Binding("ctrl+p", "command_palette", "palette")
APP_ACTIONS = frozenset(b.action.partition("(")[0] for b in APP_BINDINGS)
MONITOR_ONLY = APP_ACTIONS - {"compare", "compute", "fleet"}


def unique(bindings: Iterable[Binding]) -> list[Binding]:
    """The first binding of each key, as Textual resolves them (a screen's before the app's)."""
    seen: set[str] = set()
    out = []
    for binding in bindings:
        keys = tuple(k.strip() for k in binding.key.split(","))
        if not seen.intersection(keys):
            out.append(binding)
        seen.update(keys)
    return out


def bindings_of(declared: Sequence[object]) -> list[Binding]:
    return [b for b in declared if isinstance(b, Binding)]


def monitor_bindings() -> list[Binding]:
    """The monitor's keys as Textual resolves them: its own, then the app's, then the palette's."""
    return unique([*bindings_of(MonitorScreen.BINDINGS), *APP_BINDINGS, PALETTE])


def compare_bindings() -> list[Binding]:
    return unique(bindings_of(CompareScreen.BINDINGS))


def compute_bindings() -> list[Binding]:
    return unique(bindings_of(ComputeScreen.BINDINGS))


class KeyActions:
    """The app's key actions (mixed into QuanttuiApp, which provides what is declared here)."""

    state: LiveState
    info: SessionInfo
    mode: str
    _sent: list[concurrent.futures.Future[None]]  # commands of keys not yet applied by the session

    @property
    def key_mode(self) -> str:
        return controls.key_mode(self.mode, self.info.triage_only)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys of another mode are off (hidden from the footer, as from the help); the monitor's
        keys are off on the Compare screen, whose footer has its own."""
        app: Any = self
        shown = next((s for s in reversed(app.screen_stack) if not s.is_modal), None)  # under a modal
        if action in MONITOR_ONLY and isinstance(shown, CompareScreen | ComputeScreen | FleetScreen):
            return False
        if action in APP_ACTIONS and app.screen_stack and app.screen_stack[-1].is_modal:
            return False  # a priority key: a dialog on top gets it (as text, in the tag's or SLO's)
        return controls.action_allowed(action, self.key_mode)

    def refused(self, action: str, argument: float = 0.0) -> bool:
        """Tell why the key cannot act, when the screen is up to date with the session (commands
        sent before have been applied and their events folded: keys typed ahead are never refused
        on a stale screen)."""
        app: Any = self
        self._sent = [f for f in self._sent if not f.done()]
        if self._sent:
            return False
        app.fold_pending()
        reason = controls.refusal(
            action, self.state, argument, mode=self.key_mode, can_restart=self.info.can_restart
        )
        if reason is not None:
            app.notify(reason, title="quanttui", severity="warning", timeout=4)
        return reason is not None

    def _send(self, command: Command) -> None:
        app: Any = self
        self._sent.append(app.send(command))

    def _key(self, action: str, argument: float = 0.0) -> None:
        command = controls.command_for(action, argument)
        if command is not None and not self.refused(action, argument):
            self._send(command)

    def action_start_ramp(self) -> None:
        self._key("start_ramp")

    def action_stop_ramp(self) -> None:
        self._key("stop_ramp")

    def action_step_up(self) -> None:
        self._key("step_up")

    def action_step_down(self) -> None:
        self._key("step_down")

    def action_step(self) -> None:
        self._key("step")

    def action_pause_ramp(self) -> None:
        self._key("pause_ramp")

    def action_pause_replay(self) -> None:
        self._key("pause_replay")

    def action_seek(self, seconds: float) -> None:
        self._key("seek", seconds)

    def action_speed(self, direction: int) -> None:
        self._key("speed", direction)

    def action_restart_engines(self) -> None:
        if self.refused("restart_engines"):
            return
        app: Any = self
        self._send(RestartFailed())
        app.notify("restarting failed engines; they rejoin the ramp at the next step", title="quanttui")

    def action_set_slo(self) -> None:
        if self.refused("set_slo"):
            return

        def apply(value: float | None) -> None:
            if value is not None:
                self._send(SetSlo(value))

        app: Any = self
        app.push_screen(SloScreen(self.state.slo_ms, self.state.slo_metric), apply)

    def _toggle(self, screen: type, make: Callable[[], Any]) -> None:
        """`screen` over the one shown, or back if it is on top: its key is a priority binding met
        before the screen's own, so a burst of presses ends where its count says."""
        app: Any = self
        stack = app.screen_stack
        if stack and isinstance(stack[-1], screen):
            if len(stack) > 1:
                app.pop_screen()
        elif stack:
            app.push_screen(make())

    def action_compare(self) -> None:
        app: Any = self
        self._toggle(CompareScreen, lambda: CompareScreen(app.triage, app.state))

    def action_compute(self) -> None:
        self._toggle(ComputeScreen, lambda: ComputeScreen(self.state))

    def action_fleet(self) -> None:
        self._toggle(FleetScreen, lambda: FleetScreen(self.state))

    def action_help(self) -> None:
        app: Any = self
        if isinstance(app.screen, HelpScreen):
            return
        mode = self.key_mode
        keys = help_rows(monitor_bindings(), mode, app.get_key_display)
        compare = help_rows(compare_bindings(), mode, app.get_key_display)
        compute = help_rows(compute_bindings(), mode, app.get_key_display)
        app.push_screen(HelpScreen(mode, keys, compare, compute))
