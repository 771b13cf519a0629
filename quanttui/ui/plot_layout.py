"""What a chart draws at a given size: axes, ticks, outliers and its header line(s). Pure.

The rules, chosen so a chart reads at a glance (docs/ARCHITECTURE.md, "Charts"):

- y top, robust to single outliers: of the values inside the visible time window, the k highest
  (k = 1 + 2 % of them) may be outliers; a value more than `FENCE` (3) times the next value below
  those k is one. The axis top is the highest other value plus 10 % headroom, raised to show every
  marked line (the SLO). Outliers are drawn clipped at the top with a "▲" and counted in the header
  with their peak, so a lone spike neither sets the scale nor hides.
- Ticks: "nice" values (1, 2, 2.5, 5 x 10^n) at least two rows apart, and every marked line's
  own value as a labelled tick (a regular tick on the same row gives way): the SLO line sits on
  the row labelled with the SLO.
- Units: the y unit heads the y labels (first header line), the x axis is session time and its
  last labelled tick carries "s".
- The legend is in the header above the plot, never inside the plot area.

Rows and columns follow plotext's own mapping (`row_of`), so a tick's label and a line at the
same value share a row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

FENCE = 3.0  # a value more than FENCE x the reference is an outlier
TAIL = 0.02  # at most this share of the values (and at least one) may be outliers
HEADROOM = 0.1
OUTLIER_MARKER = "▲"
_NICE = (1.0, 2.0, 2.5, 5.0)
_TIME_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    colour: str  # a theme variable name, e.g. "variant-1"
    marker: str = "braille"
    legend: bool = True  # listed in the header's legend


@dataclass(frozen=True)
class Chart:
    """Everything one plot shows; equal charts are not redrawn."""

    title: str
    short_title: str
    unit: str  # of the y axis
    series: tuple[Series, ...] = ()
    hlines: tuple[tuple[float, str], ...] = ()  # (y, colour variable); each y is a labelled tick
    vlines: tuple[tuple[float, str], ...] = ()
    ylim: tuple[float, float] | None = None  # fixed (e.g. 0-100 %); else from the data, robustly
    xlim: tuple[float, float] | None = None


@dataclass(frozen=True)
class Axis:
    lo: float
    hi: float
    ticks: tuple[float, ...]
    labels: tuple[str, ...]

    @property
    def label_width(self) -> int:
        return max((len(s) for s in self.labels), default=0)


@dataclass(frozen=True)
class Robust:
    """The highest value that sets the axis, and what lies above the outlier fence."""

    top: float
    outliers: int = 0
    peak: float | None = None  # the highest outlier


Segment = tuple[str, str | None]  # (text, colour variable or None)


@dataclass(frozen=True)
class Layout:
    header: tuple[tuple[Segment, ...], ...]  # one or two lines above the plot
    y: Axis
    x: Axis
    series: tuple[Series, ...]  # clipped to the y axis
    markers: tuple[Series, ...]  # outliers, drawn at the top
    off_scale: Robust  # the points drawn at the top with OUTLIER_MARKER
    hlines: tuple[tuple[float, str], ...] = ()  # on the axis's scale (a log axis: log10 values)
    vlines: tuple[tuple[float, str], ...] = ()


def row_of(value: float, lo: float, hi: float, rows: int) -> int:
    """The canvas row (0 = bottom) plotext draws `value` on (its get_matrix_data)."""
    return math.floor(round(0.5 + (rows - 1) * (value - lo) / (hi - lo), 8))


def robust_top(values: Iterable[float]) -> Robust:
    """The axis-setting maximum of `values`, single outliers excluded (rule in the module doc)."""
    data = sorted((v for v in values if math.isfinite(v)), reverse=True)
    if not data:
        return Robust(0.0)
    k = 1 + int(len(data) * TAIL)
    reference = data[min(k, len(data) - 1)]
    if len(data) <= 1 or reference <= 0:
        return Robust(data[0])
    fence = FENCE * reference
    kept = [v for v in data if v <= fence]
    out = len(data) - len(kept)
    return Robust(kept[0], out, data[0] if out else None)


def _nice_steps(minimum: float) -> Iterable[float]:
    exponent = math.floor(math.log10(minimum)) if minimum > 0 else 0
    while True:
        for base in _NICE:
            step = base * 10.0**exponent
            if step >= minimum:
                yield step
        exponent += 1


def _decimals(step: float) -> int:
    for digits in range(0, 6):
        if abs(round(step, digits) - step) < 1e-9 * max(1.0, step):
            return digits
    return 6


def _label(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def value_axis(
    top: float,
    rows: int,
    marks: Sequence[float] = (),
    fixed: tuple[float, float] | None = None,
) -> Axis:
    """A y axis from 0 (or `fixed`) that shows `top` with headroom and labels every mark exactly.

    Regular ticks are nice multiples at least two rows apart (one, if that leaves fewer than
    three labels); each mark inside the range is a tick labelled with its own value, and a
    regular tick that would share its row is left out.
    """
    rows = max(2, rows)
    if fixed is not None:
        lo, hi = fixed
    else:
        lo = 0.0
        hi = max([top, *marks]) * (1 + HEADROOM)
        if hi <= lo:
            hi = lo + 1.0
    for spacing in (2, 1):  # rows between regular ticks; closer only if marks left too few
        step = next(_nice_steps(spacing * (hi - lo) / max(1, rows - 1)))
        digits = _decimals(step)
        ticks = {row_of(v, lo, hi, rows): (v, _label(v, digits)) for v in _multiples(lo, hi, step)}
        for mark in marks:
            if lo <= mark <= hi:
                mark_digits = 0 if abs(mark) >= 100 or mark == int(mark) else max(1, digits)
                ticks[row_of(mark, lo, hi, rows)] = (mark, _label(mark, mark_digits))
        if len(ticks) >= 3 or rows < 5:
            break
    ordered = sorted(ticks.values())
    return Axis(lo, hi, tuple(v for v, _ in ordered), tuple(s for _, s in ordered))


def _multiples(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(i * step, 9) for i in range(first, last + 1)]


def time_axis(lo: float, hi: float, columns: int, unit: str = "s") -> Axis:
    """Session-time ticks that fit `columns`; the last labelled tick carries the unit."""
    if hi <= lo:
        hi = lo + 1.0
    width = len(f"{int(hi)} {unit}") + 2  # a label and the space around it
    for step in _TIME_STEPS:
        ticks = _multiples(lo, hi, step)
        if len(ticks) <= 1 or columns * step / (hi - lo) >= width:
            break
    labels = [str(int(t)) for t in ticks]
    if labels:
        labels[-1] = f"{labels[-1]} {unit}"
    return Axis(lo, hi, tuple(ticks), tuple(labels))


def _visible(chart: Chart) -> list[float]:
    lo, hi = chart.xlim or (-math.inf, math.inf)
    return [y for s in chart.series for x, y in zip(s.xs, s.ys, strict=True) if lo <= x <= hi]


def _off_scale_note(off_scale: Robust) -> str:
    peak = off_scale.peak or 0.0
    value = _label(peak, 0 if peak >= 100 else 1)
    if off_scale.outliers == 1:
        return f"{OUTLIER_MARKER} off-scale: {value}"
    return f"{OUTLIER_MARKER} {off_scale.outliers} off-scale, max {value}"


def _width(line: Sequence[Segment]) -> int:
    return sum(len(text) for text, _ in line)


def legend_piece(label: str, marker: str, colour: str) -> list[Segment]:
    """One legend entry: its separating space, the series' mark in its colour, the label."""
    return [(" ", None), (marker, colour), (f" {label}", None)]


def _header(chart: Chart, off_scale: Robust, width: int, unit_width: int) -> tuple[tuple[Segment, ...], ...]:
    pieces: list[list[Segment]] = []  # each starts with its separating space
    for s in chart.series:
        if s.legend and s.xs:
            pieces.append(legend_piece(s.label, "━" if s.marker == "braille" else "•", s.colour))
    if off_scale.outliers:
        pieces.append([(" ", None), (_off_scale_note(off_scale), None)])
    return header_lines(chart.title, chart.short_title, chart.unit, pieces, width, unit_width, 3)


def header_lines(
    title: str,
    short_title: str,
    unit: str,
    pieces: list[list[Segment]],
    width: int,
    unit_width: int,
    max_lines: int = 2,
) -> tuple[tuple[Segment, ...], ...]:
    """The unit, title and legend pieces: one line of `width` if any wording fits, else more.

    Tried in order: the unit right-aligned over the y labels with the title, then the short
    title, then the unit unpadded; else line one holds the unit, the title and what legend
    entries fit, the next lines the rest (wrapped between entries, up to `max_lines` in all;
    the last one is cut by the widget if it still overflows).
    """
    pieces = list(pieces)
    tail = [segment for piece in pieces for segment in piece]
    padded = unit.rjust(unit_width)
    heads = [(padded, title), (padded, short_title), (unit, short_title)]
    for head, name in heads:
        line = [(head, None), (f" {name}", None), *tail]
        if _width(line) <= width:
            return (tuple(line),)
    head, name = next(((u, t) for u, t in heads if len(u) + 1 + len(t) <= width), heads[-1])
    first: list[Segment] = [(head, None), (f" {name}", None)]
    while pieces and _width(first) + _width(pieces[0]) <= width:
        first += pieces.pop(0)
    lines = [tuple(first)]
    while pieces:
        line: list[Segment] = []
        while pieces and (
            not line or _width(line) + _width(pieces[0]) <= width + 1 or len(lines) == max_lines - 1
        ):
            line += pieces.pop(0)
        lines.append(tuple(line[1:]))  # no leading space
    return tuple(lines)


def layout(chart: Chart, width: int, height: int) -> Layout:
    """The chart as plotext should draw it in `width` x `height` cells, header lines included."""
    robust = Robust(0.0) if chart.ylim else robust_top(_visible(chart))
    marks = [y for y, _ in chart.hlines]
    hi = value_axis(robust.top, 2, marks, chart.ylim).hi  # the top does not depend on the rows
    above = [v for v in _visible(chart) if v > hi]
    off_scale = Robust(robust.top, len(above), max(above, default=None))
    y = value_axis(robust.top, height - 4, marks, chart.ylim)
    header: tuple[tuple[Segment, ...], ...] = ()
    for _ in range(2):  # the header's line count and the y labels' width depend on each other
        header = _header(chart, off_scale, width - 1, y.label_width)  # a gap before the next chart
        y = value_axis(robust.top, height - len(header) - 3, marks, chart.ylim)
    lo_x, hi_x = chart.xlim or _span([x for s in chart.series for x in s.xs])
    x = time_axis(lo_x, hi_x, width - y.label_width - 2)
    clipped, markers = [], []
    for s in chart.series:
        ys = [min(max(v, y.lo), y.hi) for v in s.ys]
        clipped.append(Series(s.label, s.xs, tuple(ys), s.colour, s.marker, s.legend))
        xs_above = [xv for xv, v in zip(s.xs, s.ys, strict=True) if v > y.hi]
        if xs_above:
            top = (y.hi,) * len(xs_above)
            markers.append(Series(s.label, tuple(xs_above), top, s.colour, OUTLIER_MARKER, legend=False))
    return Layout(header, y, x, tuple(clipped), tuple(markers), off_scale, chart.hlines, chart.vlines)


def _span(xs: Sequence[float]) -> tuple[float, float]:
    return (min(xs), max(xs)) if xs else (0.0, 10.0)
