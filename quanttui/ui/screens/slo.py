"""A small modal asking for a new p95 SLO in milliseconds.

A `KeyDialog` (screens/dialog.py), like the tag dialog: `l 3000 enter p` typed ahead over a slow
link sets the SLO and then pauses. The current value is shown selected:
the first digit typed replaces it, backspace clears it.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input

from quanttui.ui.screens.dialog import KeyDialog
from quanttui.ui.widgets.text import LiteralLine

NUMBER_KEYS = frozenset("0123456789.")


class SloScreen(KeyDialog[float | None]):
    """Dismisses with the new SLO (ms > 0), or None on escape."""

    def __init__(self, current_ms: float | None, metric: str) -> None:
        super().__init__(id="slo")
        self.current_ms = current_ms
        self.metric = metric
        self.text = "" if current_ms is None else f"{current_ms:g}"
        self.selected = bool(self.text)  # the shown value goes at the first key that edits

    def compose(self) -> ComposeResult:
        with Vertical(id="slo-body"):
            yield LiteralLine(f"p95 {self.metric} SLO in ms (enter to apply, esc to cancel)")
            field = Input(value=self.text, id="slo-input", classes="-active")
            field.can_focus = False
            yield field
            yield LiteralLine("", id="slo-error")

    def on_mount(self) -> None:
        self._show()

    def read_key(self, event: events.Key) -> None:
        if event.key == "escape":
            self.dismiss(None)
            return
        if event.key == "enter":
            self._submit()
            return
        if event.key in ("backspace", "ctrl+u"):
            self.text = "" if self.selected or event.key == "ctrl+u" else self.text[:-1]
        elif event.character in NUMBER_KEYS:
            self.text = event.character if self.selected else self.text + event.character
        else:
            return
        self.selected = False
        self._show()

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.text, self.selected = event.text.strip(), False
        self._show()

    def _submit(self) -> None:
        try:
            value = float(self.text)
        except ValueError:
            value = 0.0
        if not value > 0:
            if self.is_mounted:
                self.query_one("#slo-error", LiteralLine).show("the SLO must be a number of ms above 0")
            return
        self.dismiss(value)

    def _show(self) -> None:
        if self.is_mounted:
            field = self.query_one(Input)
            field.value = self.text
            field.cursor_position = len(self.text)
            if self.selected:
                field.selection = (0, len(self.text))  # shown selected: the next digit replaces it
