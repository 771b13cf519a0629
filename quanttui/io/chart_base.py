"""How a quanttui chart is drawn and saved: matplotlib's object API (no pyplot state, so a chart
can be drawn off the main thread), the theme's colours, static SVG for a page and PNG for slides.

matplotlib, not a browser-based library: it draws offline with its Agg and SVG back ends, needs no
browser for PNG, writes text as paths (the SVG needs no font), and is the best kept plotting
library in Python. The report's charts (io/report_charts.py) and the comparison's
(io/compare_charts.py) are built from these parts.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from quanttui.core.levels import LevelKind
from quanttui.io.report_palette import Palette

WIDTH_IN, HEIGHT_IN = 8.0, 3.6
PNG_DPI = 150
_RC = {
    "svg.fonttype": "path",  # text drawn as paths: no font to fetch or to lack
    "svg.hashsalt": "quanttui",  # the same chart gives the same file
    "font.family": "DejaVu Sans",  # shipped with matplotlib
    "font.size": 9,
}
_DRAWING = threading.Lock()
LEVEL_AXIS = {
    LevelKind.CONCURRENCY: "concurrent users",
    LevelKind.RATE: "offered rate (requests/s)",
    LevelKind.INPUT_TOKENS: "prompt length (tokens)",
}


@dataclass(frozen=True)
class Chart:
    """One drawn chart: its name (the PNG's file name), its title and caption, and its SVG text."""

    name: str
    title: str
    caption: str
    svg: str
    figure: Figure


def figure(palette: Palette, panels: int = 1, height: float = HEIGHT_IN) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH_IN, height), facecolor=palette.surface, layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax in axes:
        ax.set_facecolor(palette.surface)
        ax.grid(True, color=palette.bar_track, linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(colors=palette.foreground)
        for spine in ax.spines.values():
            spine.set_color(palette.bar_track)
        ax.xaxis.label.set_color(palette.foreground)
        ax.yaxis.label.set_color(palette.foreground)
        ax.title.set_color(palette.foreground)
    return fig, list(axes)


def legend(ax: Axes, palette: Palette, below: bool = False, loc: str = "best") -> None:
    """The axes' legend in the theme's colours; `below` the figure when it has many entries, so
    it never hides a line."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if below:
        longest = max(len(label) for label in labels)
        columns = max(1, min(4, len(handles), 110 // (longest + 8)))  # ~110 characters fit across
        box = ax.figure.legend(handles, labels, loc="outside lower center", ncols=columns, frameon=False,
                               fontsize=8)  # fmt: skip
    else:
        box = ax.legend(frameon=False, fontsize=8, loc=loc)
    for text in box.get_texts():
        text.set_color(palette.foreground)


def level_axis(ax: Axes, kind: LevelKind, levels: Sequence[float]) -> None:
    """Levels that double (1, 2, 4, 8 users) on a log axis, each level a tick."""
    levels = sorted(set(levels))
    if levels and levels[0] > 0 and levels[-1] / levels[0] >= 4:
        ax.set_xscale("log", base=2)
        ax.minorticks_off()
    if levels:
        ax.set_xticks(levels)
        ax.set_xticklabels([f"{v:g}" if kind is not LevelKind.INPUT_TOKENS else f"{v:,.0f}" for v in levels])
    ax.set_xlabel(LEVEL_AXIS[kind])


@contextlib.contextmanager
def drawing() -> Iterator[None]:
    """Around every drawing and saving: matplotlib's settings are global, so one report draws at a
    time (a console's report draws on a thread of its own) with the report's settings."""
    with _DRAWING, matplotlib.rc_context(_RC):
        yield


def svg_text(fig: Figure) -> str:
    """The figure as an SVG element to put inline (no XML declaration or doctype)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def save_png(fig: Figure, path: Path) -> None:
    fig.savefig(path, format="png", dpi=PNG_DPI, metadata={"Software": None})
