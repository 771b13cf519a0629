"""The monitor screen: status line, one mirrored column per variant, deltas, plots and logs.

It only copies state onto widgets when the app's frame timer asks (`show_state`); it never
reads the stream. Its layout follows the terminal, so it works from 80x24 to large screens:
columns wrap two to a row when narrow; when short, plots and log panes give way to a one-line
log ticker and `L` shows the panes full size; the body scrolls with the keyboard (↑ ↓ pgup pgdn
home end), the logs too while they are shown; the footer turns compact and puts Help and Quit
first. The knee chart (p95 per step against the load, ui/load_chart.py) is the first chart at
every size: below the body in a short terminal, leading the row of charts in a tall one, above
its twin for tok/s per step; `y` cycles what its y axis shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer

from quanttui.core.live import LiveState
from quanttui.ui.charts import kv_chart, latency_chart, throughput_chart
from quanttui.ui.load_chart import TOK_S, load_chart, y_choices
from quanttui.ui.screens.help import HELP_AND_QUIT
from quanttui.ui.views import StatusView, delta_lines, delta_row, variant_view
from quanttui.ui.widgets.delta import DeltaStrip
from quanttui.ui.widgets.footer import FooterOrder, KeyFooter
from quanttui.ui.widgets.logs import LogPane, LogTicker
from quanttui.ui.widgets.plots import MetricPlot
from quanttui.ui.widgets.status import StatusLine
from quanttui.ui.widgets.variant import VariantColumn

NARROW_BELOW = 100  # columns
SHORT_BELOW = 36  # rows: plots and log panes hide, a one-line log ticker shows
TALL_FROM = 50  # rows: the knee chart's tok/s twin shows below it
WIDE_FROM = 160  # columns: room for the KV time chart beside the knee chart and two time charts


class MonitorScreen(FooterOrder, Screen[None]):
    BINDINGS = [
        *HELP_AND_QUIT,
        Binding("L", "toggle_logs", "Logs"),
        Binding("y", "cycle_y", "Y axis", show=False),  # in the help; the 80-column footer is full
        Binding("up", "scroll('up')", "Up", show=False),
        Binding("down", "scroll('down')", "Down", show=False),
        Binding("pageup", "scroll('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll('page_down')", "Page down", show=False),
        Binding("home", "scroll('home')", "Top", show=False),
        Binding("end", "scroll('end')", "Bottom", show=False),
    ]

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(id="monitor")
        self.names = list(names)
        self.recomposing = False
        self._repaint_timer: Timer | None = None
        self.y_metric: str | None = None  # the knee chart's y (None: the SLO's primary bound)
        self._y_choices: list[str] = []

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
                with Vertical(id="load-stack"):
                    yield MetricPlot(id="plot-load")
                    yield MetricPlot(id="plot-load-tok")
                yield MetricPlot(id="plot-tok")
                yield MetricPlot(id="plot-p95")
                yield MetricPlot(id="plot-kv")
            with Horizontal(id="logs", classes=f"-n{min(n, 4)}"):
                for i, name in enumerate(self.names):
                    yield LogPane(name, i)
        yield MetricPlot(id="plot-knee")  # short terminals: the knee chart where the log panes were
        yield LogTicker(id="ticker")
        yield KeyFooter()

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
        self.set_class(height >= TALL_FROM, "-tall")
        self.set_class(width < WIDE_FROM, "-mid")

    # -- keys ----------------------------------------------------------------------------------
    def action_toggle_logs(self) -> None:
        self.toggle_class("-logs")
        if self.has_class("-logs"):
            for pane in self.query(LogPane):
                pane.auto_scroll = True
                pane.scroll_end(animate=False)

    def action_cycle_y(self) -> None:
        """The knee chart's y: the SLO's bounds in turn (primary first), then tok/s per step."""
        choices = self._y_choices or [TOK_S]
        at = choices.index(self.y_metric) if self.y_metric in choices else 0
        self.y_metric = choices[(at + 1) % len(choices)]
        if self.y_metric == choices[0]:
            self.y_metric = None
        self.app.refresh_view(force=True)  # type: ignore[attr-defined]

    def action_scroll(self, how: str) -> None:
        """The body, or every log pane together while the logs are shown (scrolling up stops
        them following new lines; end follows again)."""
        targets = list(self.query(LogPane)) if self.has_class("-logs") else [self.query_one("#body")]
        for target in targets:
            if isinstance(target, LogPane):
                target.auto_scroll = how == "end"
            match how:
                case "up":
                    target.scroll_up(animate=False)
                case "down":
                    target.scroll_down(animate=False)
                case "page_up":
                    target.scroll_page_up(animate=False)
                case "page_down":
                    target.scroll_page_down(animate=False)
                case "home":
                    target.scroll_home(animate=False)
                case "end":
                    target.scroll_end(animate=False)

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
        self.query_one(LogTicker).follow(state.variants)
        if not replot:
            return
        self._y_choices = y_choices(state)
        if self.has_class("-short"):
            if not self.has_class("-logs"):
                self.query_one("#plot-knee", MetricPlot).show(load_chart(state, self.y_metric))
            return
        if self.query_one("#plots").display:
            self.query_one("#plot-load", MetricPlot).show(load_chart(state, self._latency_y()))
            if self.has_class("-tall"):
                self.query_one("#plot-load-tok", MetricPlot).show(load_chart(state, TOK_S))
            self.query_one("#plot-tok", MetricPlot).show(throughput_chart(state))
            self.query_one("#plot-p95", MetricPlot).show(latency_chart(state))
            if not self.has_class("-mid"):
                self.query_one("#plot-kv", MetricPlot).show(kv_chart(state))

    def _latency_y(self) -> str | None:
        """The upper load chart of a tall layout: a latency bound (tok/s has its own below)."""
        return None if self.y_metric == TOK_S and self.has_class("-tall") else self.y_metric
