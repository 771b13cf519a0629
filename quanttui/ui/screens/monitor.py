"""The monitor screen: status line, one mirrored column per variant, deltas, plots and logs.

It only copies state onto widgets when the app's frame timer asks (`show_state`); it never
reads the stream. Its layout follows the terminal: plots hide when short, columns wrap when
narrow, so it works from 80x24 to large screens.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from quanttui.core.live import LiveState
from quanttui.ui.charts import kv_chart, latency_chart, throughput_chart
from quanttui.ui.views import StatusView, delta_lines, delta_row, variant_view
from quanttui.ui.widgets.delta import DeltaStrip
from quanttui.ui.widgets.logs import LogPane
from quanttui.ui.widgets.plots import MetricPlot
from quanttui.ui.widgets.status import StatusLine
from quanttui.ui.widgets.variant import VariantColumn

NARROW_BELOW = 100  # columns
SHORT_BELOW = 36  # rows: plots hide
TINY_BELOW = 22  # rows: logs hide too


class MonitorScreen(Screen[None]):
    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(id="monitor")
        self.names = list(names)
        self.recomposing = False
        self._repaint_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        n = len(self.names)
        with VerticalScroll(id="body", can_focus=False):
            with Horizontal(id="columns", classes=f"-n{min(n, 4)}"):
                for i, name in enumerate(self.names):
                    yield VariantColumn(name, i)
                    if n == 2 and i == 0:
                        yield DeltaStrip(id="delta", classes="-between")
            if n != 2:
                yield DeltaStrip(id="delta", classes="-row")
            with Horizontal(id="plots"):
                yield MetricPlot(id="plot-tok")
                yield MetricPlot(id="plot-p95")
                yield MetricPlot(id="plot-kv")
            with Horizontal(id="logs"):
                for i, name in enumerate(self.names):
                    yield LogPane(name, i)
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        self.fit(event.size.width, event.size.height)
        # A terminal (tmux, an SSH client) may keep or reflow stale text across a resize; Textual
        # rewrites only what it thinks changed. Once the size settles, repaint every line.
        if self._repaint_timer is not None:
            self._repaint_timer.stop()
        self._repaint_timer = self.set_timer(0.3, self._repaint_all)

    def _repaint_all(self) -> None:
        self._repaint_timer = None
        self.app.refresh(repaint=True, layout=True)
        self.refresh(repaint=True, layout=True)

    def fit(self, width: int, height: int) -> None:
        self.set_class(width < NARROW_BELOW, "-narrow")
        self.set_class(height < SHORT_BELOW, "-short")
        self.set_class(height < TINY_BELOW, "-tiny")

    async def follow_variants(self, names: list[str]) -> None:
        """Variants that appear only in events (not announced by the session) get a column too."""
        if names != self.names:
            self.names = list(names)
            self.recomposing = True
            try:
                await self.recompose()
            finally:
                self.recomposing = False
            self.app.refresh_view(force=True)  # type: ignore[attr-defined]

    def show_state(self, state: LiveState, status: StatusView, replot: bool) -> bool:
        """Draw the state; False when the frame was skipped (not mounted yet, widgets being
        replaced): the caller must not count it as drawn."""
        if self.recomposing or not self.is_mounted:
            return False
        try:
            self._show_state(state, status, replot)
        except NoMatches:
            return False  # mid-recompose (resize, new variant): the next frame draws it
        return True

    def _show_state(self, state: LiveState, status: StatusView, replot: bool) -> None:
        self.query_one(StatusLine).show(status)
        for column in self.query(VariantColumn):
            if column.variant in state.variants:
                column.show(variant_view(state, column.variant))
        delta = self.query_one(DeltaStrip)
        delta.show("\n".join(delta_lines(state)) if delta.has_class("-between") else delta_row(state))
        for pane in self.query(LogPane):
            if pane.variant in state.variants:
                pane.follow(state.variants[pane.variant], state.resets)
        if replot and self.query_one("#plots").display and not self.has_class("-short"):
            self.query_one("#plot-tok", MetricPlot).show(throughput_chart(state))
            self.query_one("#plot-p95", MetricPlot).show(latency_chart(state))
            self.query_one("#plot-kv", MetricPlot).show(kv_chart(state))
