"""The status line, always on top: mode, position in the ramp, SLO, paused state and knees."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from quanttui.ui.views import StatusView
from quanttui.ui.widgets.text import LiteralLine


class StatusLine(Vertical):
    """One row on wide terminals; on narrow ones the SLO and counters move to a second row."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-row-1"):
            yield LiteralLine(id="status-mode")
            yield LiteralLine(id="status-progress")
            yield LiteralLine(id="status-slo", classes="wide-only")
            yield LiteralLine(id="status-flags")
            yield LiteralLine(id="status-knees")
            yield LiteralLine(id="status-counters", classes="wide-only counters")
        with Horizontal(id="status-row-2"):
            yield LiteralLine(id="status-slo-2")
            yield LiteralLine(id="status-counters-2", classes="counters")

    def show(self, view: StatusView) -> None:
        for part in ("mode", "progress", "slo", "flags", "knees", "counters"):
            value = getattr(view, part)
            text = f" {value} " if value else ""
            self.query_one(f"#status-{part}", LiteralLine).show(text)
            if part in ("slo", "counters"):
                self.query_one(f"#status-{part}-2", LiteralLine).show(text)
        mode = self.query_one("#status-mode", LiteralLine)
        mode.set_class(view.mode == "LIVE", "-live")
        mode.set_class(view.mode == "REPLAY", "-replay")
        self.query_one("#status-flags").set_class("PAUSED" in view.flags, "-paused")
