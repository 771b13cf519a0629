"""Time-series plots: one PlotextPlot per chart, each with its own plot object (never plotext's global).

Series colours come from the theme's `variant-N` variables; on a 16-colour (ANSI) theme they are
given to plotext as colour names so the terminal's palette draws them. Building a plot is costly,
so the monitor screen calls `show` at a throttled rate, not per event. What is drawn where (axes,
ticks, outliers, the header with unit and legend) is `ui/plot_layout.py`'s pure `layout`; this
widget only hands it to plotext and puts the header above the plot, outside its area.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.color import Color, ColorParseError
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from quanttui.ui.load_chart import LoadChart
from quanttui.ui.load_layout import load_layout
from quanttui.ui.plot_layout import Chart, Layout, layout

__all__ = ["MetricPlot", "draw", "plotext_colour"]

PlotextColour = str | tuple[int, int, int]
_ANSI_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


def plotext_colour(value: str | None) -> PlotextColour:
    """A Textual colour string as plotext wants it: a 16-colour name, or an RGB triple."""
    if not value:
        return "default"
    try:
        colour = Color.parse(value)
    except ColorParseError:
        return "default"
    if colour.ansi is not None and 0 <= colour.ansi < 16:
        name = _ANSI_NAMES[colour.ansi % 8]
        return f"{name}+" if colour.ansi >= 8 else name
    return colour.rgb


def draw(plt: Plot, frame: Layout, colour: Callable[[str], PlotextColour]) -> None:
    """Put `frame` (the chart laid out for the plot's size, header excluded) on plotext's figure."""
    plt.clear_data()
    plt.clear_figure()
    for s in (*frame.series, *frame.markers):
        if s.xs:
            plt.plot(list(s.xs), list(s.ys), color=colour(s.colour), marker=s.marker)
    for y, name in frame.hlines:
        plt.hline(y, colour(name))
    for x, name in frame.vlines:
        plt.vline(x, colour(name))
    plt.ylim(frame.y.lo, frame.y.hi)
    plt.yticks(list(frame.y.ticks), list(frame.y.labels))
    plt.xlim(frame.x.lo, frame.x.hi)
    plt.xticks(list(frame.x.ticks), list(frame.x.labels))


class MetricPlot(PlotextPlot):
    """A plot that redraws only when its `Chart` changes; its header lines sit above the plot area."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.chart: Chart | LoadChart | None = None
        self.frame: Layout | None = None  # the last layout drawn (tests read it)

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    def on_resize(self) -> None:
        self._redraw()

    def show(self, chart: Chart | LoadChart) -> None:
        if chart == self.chart:
            return
        self.chart = chart
        self._redraw()

    def _colour(self, variable: str) -> PlotextColour:
        return plotext_colour(self.app.theme_variables.get(variable))

    def _style(self, variable: str | None) -> Style:
        value = self.app.theme_variables.get(variable) if variable else None
        try:
            return Style(color=Color.parse(value).rich_color) if value else Style()
        except ColorParseError:
            return Style()

    def _redraw(self) -> None:
        if self.chart is None:
            return
        ansi = self.app.current_theme.ansi
        self.theme = "clear" if ansi else "auto"  # ANSI: let the terminal's own colours show
        self.refresh()

    def render(self) -> RenderResult:
        chart = self.chart
        width, height = self.size.width, self.size.height
        if chart is None or width < 8 or height < 5:
            return super().render() if chart is None else Text("")
        frame = (
            load_layout(chart, width, height)
            if isinstance(chart, LoadChart)
            else layout(chart, width, height)
        )
        self.frame = frame
        draw(self.plt, frame, self._colour)
        lines = [Text.assemble(*((text, self._style(var)) for text, var in line)) for line in frame.header]
        for line in lines:
            line.no_wrap = True
            line.truncate(width, overflow="ellipsis")
        plot_height = height - len(lines)
        self.plt.plotsize(width, plot_height)
        self.plt._set_size(width, plot_height)
        self.plt.theme(self._get_plotext_theme_name(self.app.theme))
        return Text("\n").join([*lines, Text.from_ansi(self.plt.build().rstrip("\n"))])
