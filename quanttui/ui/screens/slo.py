"""A small modal asking for a new p95 SLO in milliseconds."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input

from quanttui.ui.widgets.text import LiteralLine


class SloScreen(ModalScreen[float | None]):
    """Dismisses with the new SLO (ms > 0), or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current_ms: float | None, metric: str) -> None:
        super().__init__(id="slo")
        self.current_ms = current_ms
        self.metric = metric

    def compose(self) -> ComposeResult:
        with Vertical(id="slo-body"):
            yield LiteralLine(f"p95 {self.metric} SLO in ms (enter to apply, esc to cancel)")
            value = "" if self.current_ms is None else f"{self.current_ms:g}"
            yield Input(value=value, type="number", id="slo-input")
            yield LiteralLine("", id="slo-error")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        try:
            value = float(event.value)
        except ValueError:
            value = 0.0
        if not value > 0:
            self.query_one("#slo-error", LiteralLine).show("the SLO must be a number of ms above 0")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
