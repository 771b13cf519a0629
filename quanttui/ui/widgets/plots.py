"""Time-series plots: one PlotextPlot per chart, each with its own plot object (never plotext's global).

Series colours come from the theme's `variant-N` variables; on a 16-colour (ANSI) theme they are
given to plotext as colour names so the terminal's palette draws them. Building a plot is costly,
so the monitor screen calls `show` at a throttled rate, not per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.color import Color, ColorParseError
from textual_plotext import PlotextPlot

_ANSI_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    colour: str  # a theme variable name, e.g. "variant-1"
    marker: str = "braille"


@dataclass(frozen=True)
class Chart:
    """Everything one plot shows; equal charts are not redrawn."""

    title: str
    short_title: str
    series: tuple[Series, ...] = ()
    hlines: tuple[tuple[float, str], ...] = ()  # (y, colour variable)
    vlines: tuple[tuple[float, str], ...] = ()
    ylim: tuple[float, float] | None = None
    xlim: tuple[float, float] | None = None


def plotext_colour(value: str | None) -> str | tuple[int, int, int]:
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


class MetricPlot(PlotextPlot):
    """A plot that redraws only when its `Chart` changes."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.chart: Chart | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    def on_resize(self) -> None:
        self._redraw()

    def show(self, chart: Chart) -> None:
        if chart == self.chart:
            return
        self.chart = chart
        self._redraw()

    def _colour(self, variable: str) -> str | tuple[int, int, int]:
        return plotext_colour(self.app.theme_variables.get(variable))

    def _redraw(self) -> None:
        chart = self.chart
        if chart is None:
            return
        ansi = self.app.current_theme.ansi
        self.theme = "clear" if ansi else "auto"  # ANSI: let the terminal's own colours show
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        # plotext leaves out a title wider than its canvas (the plot less its y labels): on small
        # widths a short one stands in.
        plt.title(chart.title if len(chart.title) + 12 <= self.size.width else chart.short_title)
        for s in chart.series:
            if s.xs:
                plt.plot(list(s.xs), list(s.ys), label=s.label, color=self._colour(s.colour), marker=s.marker)
        for y, colour in chart.hlines:
            plt.hline(y, self._colour(colour))
        for x, colour in chart.vlines:
            plt.vline(x, self._colour(colour))
        if chart.ylim:
            plt.ylim(*chart.ylim)
        if chart.xlim:
            plt.xlim(*chart.xlim)
        self.refresh()
