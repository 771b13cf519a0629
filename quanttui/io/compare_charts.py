"""`quanttui compare`'s charts: the report's load charts with every run's variants overlaid.

A variant keeps one colour across runs (by name, in order of first appearance) and a run keeps
one line style and marker, so "awq on the L4" and "awq on the RTX" read as the same variant on two
machines. Drawn with the report's helpers (io/report_charts.py), colours from the theme.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from quanttui.core.compare_run import CompareRun, LevelPoint
from quanttui.core.cost import usd_per_million
from quanttui.io.chart_base import LEVEL_AXIS, Chart, figure, legend, level_axis, svg_text
from quanttui.io.report_palette import Palette

STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D")


def _variant_colours(runs: Sequence[CompareRun], palette: Palette) -> dict[str, str]:
    names = list(dict.fromkeys(cap.variant for run in runs for cap in run.capacities))
    return {name: palette.variant(i) for i, name in enumerate(names)}


def _lines(
    ax: Axes,
    runs: Sequence[CompareRun],
    palette: Palette,
    value: Callable[[CompareRun, LevelPoint], float | None],
    interval: bool = False,
) -> None:
    colours = _variant_colours(runs, palette)
    for r, run in enumerate(runs):
        for cap in run.capacities:
            points = sorted((p for p in run.points if p.variant == cap.variant and p.trial == 0),
                            key=lambda p: p.level)  # fmt: skip
            xy = [(p, value(run, p)) for p in points]
            xy = [(p, v) for p, v in xy if v is not None]
            if not xy:
                continue
            xs, ys = [p.level for p, _ in xy], [v for _, v in xy]
            style = {"color": colours[cap.variant], "linestyle": STYLES[r % 4], "marker": MARKERS[r % 4],
                     "markersize": 4, "label": f"{run.label}: {cap.variant}"}  # fmt: skip
            if interval:
                lower = [max(0.0, v - p.pct_lo_ms) if p.pct_lo_ms is not None else 0.0 for p, v in xy]
                upper = [p.pct_hi_ms - v if p.pct_hi_ms is not None else 0.0 for p, v in xy]
                ax.errorbar(xs, ys, yerr=[lower, upper], capsize=3, **style)
            else:
                ax.plot(xs, ys, **style)


def slo_overlay(runs: Sequence[CompareRun], palette: Palette) -> Figure:
    fig, (ax,) = figure(palette)
    _lines(ax, runs, palette, lambda run, p: p.pct_ms, interval=True)
    for r, run in enumerate(runs):
        if run.slo_ms:
            ax.axhline(run.slo_ms, color=palette.slo_line, linestyle=STYLES[r % 4], linewidth=1,
                       label=f"{run.label}: SLO {run.slo_ms:,.0f} ms")  # fmt: skip
    ax.set_ylabel(f"p{runs[0].percentile:g} {runs[0].metric} (ms)")
    ax.set_ylim(bottom=0)
    level_axis(ax, runs[0].kind, [p.level for run in runs for p in run.points])
    legend(ax, palette, below=True)
    return fig


def throughput_overlay(runs: Sequence[CompareRun], palette: Palette) -> Figure:
    fig, (left, right) = figure(palette, 2)
    _lines(left, runs, palette, lambda run, p: p.tok_s)
    _lines(right, runs, palette, lambda run, p: p.goodput_req_s)
    left.set_ylabel("output tok/s")
    right.set_ylabel("goodput (requests/s within the SLO)")
    for ax in (left, right):
        ax.set_ylim(bottom=0)
        level_axis(ax, runs[0].kind, [p.level for run in runs for p in run.points])
    legend(left, palette, below=True)
    return fig


def cost_overlay(runs: Sequence[CompareRun], palette: Palette) -> Figure:
    fig, (ax,) = figure(palette)
    _lines(ax, runs, palette,
           lambda run, p: usd_per_million(run.usd_per_hour, p.tok_s) if run.usd_per_hour else None)  # fmt: skip
    ax.set_ylabel("$ per 1M output tokens")
    ax.set_ylim(bottom=0)
    level_axis(ax, runs[0].kind, [p.level for run in runs for p in run.points])
    legend(ax, palette, below=True)
    return fig


def draw_compare_charts(runs: Sequence[CompareRun], palette: Palette) -> list[Chart]:
    unit = LEVEL_AXIS[runs[0].kind]
    pct = f"p{runs[0].percentile:g} {runs[0].metric}"
    kinds = {run.kind for run in runs}
    mixed = (
        " The runs' ramps vary different things: only the first run's axis is labelled."
        if len(kinds) > 1
        else ""
    )
    makers = [
        ("compare_slo_vs_load", f"{pct} against load, every run",
         f"Colour: variant; line style and marker: run. Bars: each step's two-sided interval; the SLO of each "
         f"run in that run's line style. x axis: {unit}.{mixed}", slo_overlay),
        ("compare_throughput_vs_load", "Throughput and goodput against load, every run",
         "Left: output tok/s. Right: goodput, the requests/s that met every SLO bound.", throughput_overlay),
    ]  # fmt: skip
    if any(run.usd_per_hour for run in runs):
        makers.append(("compare_cost_vs_load", "Cost per 1M output tokens against load, every run",
                       "Each run at its own GPU price; runs without a price are left out.", cost_overlay))  # fmt: skip
    charts = []
    for name, title, caption, make in makers:
        fig = make(runs, palette)
        charts.append(Chart(name, title, caption, svg_text(fig), fig))
    return charts
