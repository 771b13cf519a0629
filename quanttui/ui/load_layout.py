"""The knee chart laid out at a size: load on x, one mark per step, intervals, the SLO line. Pure.

- x: the loads the steps ran at, evenly spaced and labelled with their value (a doubling ramp is
  then a log axis), the last label carrying "users". Variants sharing a load sit a little apart
  so their interval bars do not cover each other.
- y: linear, unless the values (intervals and the SLO included) span ten times or more and the
  quantity is a latency: then log10, ticked at 1-2-5 steps and said in the header ("log y").
  Past the knee a p95 grows by decades; on a linear axis every step before it would sit on the
  floor, on a log axis both variants' curves, the knee and the SLO stay readable. A linear axis
  starts at 0 unless all values lie in its top three quarters (then at a round number below
  them: at 80x24 the plot has a handful of rows, none to waste on empty floor).
- Each step: its variant's mark (shape per variant, filled when the step was decided, hollow
  when undecided or still running), a bar over its interval, the variant's line through its
  steps; a decided capacity raises a dotted line from its point to the top (it crosses the SLO
  line where the variant still holds it; the capacity points sit low, the top is free).
"""

from __future__ import annotations

import math

from quanttui.ui.load_chart import LoadChart
from quanttui.ui.plot_layout import (
    Axis,
    Layout,
    Robust,
    Segment,
    Series,
    header_lines,
    legend_piece,
    row_of,
    value_axis,
)

LOG_SPAN = 10.0  # values spanning this ratio or more go on a log axis (latencies only)
X_UNIT = "users"
_LOG_STEPS = ((1.0,), (1.0, 2.0, 5.0))


def _values(chart: LoadChart) -> list[float]:
    values = [
        v
        for line in chart.lines
        for p in line.points
        for v in (p.value, p.lo, p.hi)
        if v is not None and math.isfinite(v)
    ]
    if chart.slo:
        values.append(chart.slo)
    return values


def uses_log(chart: LoadChart) -> bool:
    positive = [v for v in _values(chart) if v > 0]
    return chart.log_ok and len(positive) >= 2 and max(positive) / min(positive) >= LOG_SPAN


def log_axis(lo: float, hi: float, rows: int, marks: tuple[float, ...] = ()) -> Axis:
    """A log10 axis over [lo, hi] (real values > 0): positions are log10 values, labels real ones.
    Ticks at powers of ten, or 1-2-5 steps when that leaves them at least two rows apart; each
    mark labelled with its own value (a tick on its row gives way)."""
    top, bottom = math.log10(hi) + 0.04, math.log10(lo) - 0.04  # a little air above and below
    rows = max(2, rows)
    chosen: dict[int, tuple[float, str]] = {}
    for steps in reversed(_LOG_STEPS):
        ticks = [
            (math.log10(b * 10.0**e), b * 10.0**e)
            for e in range(math.floor(bottom) - 1, math.ceil(top) + 1)
            for b in steps
            if bottom <= math.log10(b * 10.0**e) <= top
        ]
        found = [row_of(t, bottom, top, rows) for t, _ in ticks]
        if len(found) == len(set(found)) and all(b - a >= 2 for a, b in zip(found, found[1:], strict=False)):
            chosen = {row_of(t, bottom, top, rows): (t, _log_label(v)) for t, v in ticks}
            break
    for mark in marks:
        if mark > 0 and bottom <= math.log10(mark) <= top:
            chosen[row_of(math.log10(mark), bottom, top, rows)] = (math.log10(mark), _log_label(mark))
    if len(chosen) < 2:  # a narrow range: its ends
        chosen.setdefault(0, (bottom, _log_label(10**bottom)))
        chosen.setdefault(rows - 1, (top, _log_label(10**top)))
    ordered = sorted(chosen.values())
    return Axis(bottom, top, tuple(t for t, _ in ordered), tuple(s for _, s in ordered))


def _log_label(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.{max(1, 1 - math.floor(math.log10(value)))}f}"


def _zoom(values: list[float]) -> tuple[float, float] | None:
    """A linear axis starts at 0 unless every value sits in the top three quarters of the range:
    then it starts at a round number below them, so a few rows still separate the steps."""
    if not values or min(values) <= 0.25 * max(values):
        return None
    low, high = min(values), max(values)
    step = 10.0 ** math.floor(math.log10(max(high - low, high * 0.05)))
    lo = math.floor(low * 0.95 / step) * step
    return (lo, high + (high - lo) * 0.1)


def load_axis(levels: list[float], columns: int, unit: str = X_UNIT) -> Axis:
    """One tick per load, labels thinned to every k-th (first and last kept) when they crowd."""
    positions = list(range(len(levels)))
    labels = [f"{level:g}" for level in levels]
    if labels:
        labels[-1] = f"{labels[-1]} {unit}"
    keep = list(positions)
    for every in range(1, len(levels) + 1):
        keep = sorted({*positions[::every], positions[-1]}) if positions else []
        width = sum(len(labels[i]) + 2 for i in keep)
        if width <= columns:
            break
    return Axis(
        -0.5, max(0.5, len(levels) - 0.5), tuple(float(i) for i in keep), tuple(labels[i] for i in keep)
    )


def _legend(chart: LoadChart, log: bool, notes: bool = True) -> list[list[Segment]]:
    """Each variant's mark and name (with its capacity words when `notes`), what hollow means,
    and whether y is log."""
    pieces = [
        legend_piece(
            f"{line.variant} {line.note}".strip() if notes else line.variant, line.marker, line.colour
        )
        for line in chart.lines
        if line.points or line.note
    ]
    hollow = [p for line in chart.lines for p in line.points if not p.decided]
    if hollow:
        shapes = "".join(line.hollow for line in chart.lines if any(not p.decided for p in line.points))
        kinds = {"so far" if p.running else "undecided" for p in hollow}
        pieces.append([(" ", None), (f"{shapes} {' / '.join(sorted(kinds, reverse=True))}", None)])
    if log:
        pieces.append([(" ", None), ("log y", None)])
    return pieces


def load_layout(chart: LoadChart, width: int, height: int) -> Layout:
    """The chart as plotext should draw it in `width` x `height` cells, header lines included."""
    levels = sorted({p.load for line in chart.lines for p in line.points})
    log = uses_log(chart)
    values = _values(chart)
    marks = (chart.slo,) if chart.slo else ()
    pieces = _legend(chart, log)
    if not levels:
        pieces = [[(" ", None), ("no step has a value for this y yet", None)]]

    def y_axis(rows: int) -> Axis:
        if log:
            positive = [v for v in values if v > 0]
            return log_axis(min(positive), max(positive), rows, marks)
        return value_axis(max(values, default=0.0), rows, marks, _zoom(values))

    y = y_axis(height - 4)
    header: tuple[tuple[Segment, ...], ...] = ()
    for _ in range(2):  # the header's line count and the y labels' width depend on each other
        header = header_lines(chart.title, chart.short_title, chart.unit, pieces, width - 1, y.label_width, 3)
        if len(header) > 2 and levels:  # a small chart keeps its rows: names only (the status
            short = _legend(chart, log, notes=False)  # line and the columns word the capacities)
            header = header_lines(
                chart.title, chart.short_title, chart.unit, short, width - 1, y.label_width, 3
            )
        y = y_axis(height - len(header) - 3)
    x = load_axis(levels, width - y.label_width - 2, chart.x_unit)
    position = {level: i for i, level in enumerate(levels)}
    to_y = (lambda v: math.log10(v) if v > 0 else y.lo) if log else (lambda v: v)  # <= 0: the floor
    series: list[Series] = []
    count = max(1, len(chart.lines))
    spread = min(0.12, 0.6 / count)
    bars, paths, drops, dots = [], [], [], []
    for i, line in enumerate(chart.lines):
        if not line.points:
            continue
        shift = (i - (count - 1) / 2) * spread
        xs = [position[p.load] + shift for p in line.points]
        ys = [to_y(p.value) for p in line.points]
        for x_at, p in zip(xs, line.points, strict=True):
            if p.lo is None and p.hi is None:
                continue  # too few samples for either end: no bar claims one
            lo = to_y(p.lo if p.lo is not None else p.value)
            hi = to_y(p.hi if p.hi is not None else p.value)
            bars.append(
                Series(line.variant, (x_at, x_at), (lo, min(hi, y.hi)), line.colour, "│", legend=False)
            )
            if p.hi is None:  # no upper end: the interval is open upwards, dotted to the top
                bars.append(Series(line.variant, (x_at, x_at), (hi, y.hi), line.colour, "┊", legend=False))
        if len(xs) > 1:
            order = sorted(range(len(xs)), key=lambda k: (xs[k], k))
            path_xs = tuple(xs[k] for k in order)
            path_ys = tuple(ys[k] for k in order)
            paths.append(Series(line.variant, path_xs, path_ys, line.colour, "braille", legend=False))
        at = next((k for k, p in enumerate(line.points) if p.load == line.capacity), None)
        if at is not None:
            drops.append(
                Series(line.variant, (xs[at], xs[at]), (ys[at], y.hi), line.colour, "┆", legend=False)
            )
        for x_at, y_at, p in zip(xs, ys, line.points, strict=True):
            marker = line.marker if p.decided else line.hollow
            dots.append(Series(line.variant, (x_at,), (y_at,), line.colour, marker, legend=False))
    series = [*bars, *paths, *drops, *dots]
    hlines = tuple((to_y(v), "slo-line") for v in marks)
    return Layout(header, y, x, tuple(series), (), Robust(0.0), hlines)
