"""The status line, always on top: mode, position in the ramp, SLO, paused state, each variant's
capacity, and under it the capacity sentence (or why it is inconclusive)."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from quanttui.ui.views import StatusView
from quanttui.ui.widgets.text import LiteralLine

ROW_1 = ("mode", "progress", "slo", "flags", "capacity", "counters")


class StatusLine(Vertical):
    """One row when everything fits; else (a narrow terminal, long capacity words) the SLO,
    capacities and counters move to a second row. The verdict row (one line per capacity
    sentence) shows once a step has finished."""

    view: StatusView | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-row-1"):
            yield LiteralLine(id="status-mode")
            yield LiteralLine(id="status-progress")
            yield LiteralLine(id="status-slo", classes="wide-only")
            yield LiteralLine(id="status-flags")
            yield LiteralLine(id="status-capacity", classes="wide-only capacity")
            yield LiteralLine(id="status-counters", classes="wide-only counters")
        with Horizontal(id="status-row-2"):
            yield LiteralLine(id="status-slo-2")
            yield LiteralLine(id="status-capacity-2", classes="capacity")
            yield LiteralLine(id="status-counters-2", classes="counters")
        yield LiteralLine(id="status-verdict")

    def on_resize(self, _event: events.Resize) -> None:
        if self.view is not None:
            self._fit(self.view)

    def _fit(self, view: StatusView) -> None:
        needed = sum(cell_len(f" {value} ") for part in ROW_1 if (value := getattr(view, part)))
        self.set_class(needed > self.size.width > 0, "-two-rows")

    def show(self, view: StatusView) -> None:
        self.view = view
        self._fit(view)
        for part in ROW_1:
            value = getattr(view, part)
            text = f" {value} " if value else ""
            self.query_one(f"#status-{part}", LiteralLine).show(text)
            if part in ("slo", "capacity", "counters"):
                self.query_one(f"#status-{part}-2", LiteralLine).show(text)
        verdict = self.query_one("#status-verdict", LiteralLine)
        verdict.display = bool(view.verdict)
        lines = view.verdict.split("\n")
        if len(lines) > 1 and self.screen.has_class("-short"):  # the knee chart needs the rows
            lines = [f"{lines[0]} (+{len(lines) - 1} more: the report)"]
        verdict.show("\n".join(lines))
        verdict.set_class(bool(view.verdict) and view.verdict_decided, "-decided")
        verdict.set_class(bool(view.verdict) and not view.verdict_decided, "-inconclusive")
        mode = self.query_one("#status-mode", LiteralLine)
        mode.set_class(view.mode == "LIVE", "-live")
        mode.set_class(view.mode == "REPLAY", "-replay")
        self.query_one("#status-flags").set_class("PAUSED" in view.flags, "-paused")
