"""The charts' axes, ticks, outliers and header (ui/plot_layout.py), and plotext drawing them.

The drawing tests build the real plotext figure the console uses (`widgets/plots.draw`) and read
the text it prints: the SLO line's row against the row labelled with the SLO, what lies inside
the plot frame, the tick labels.
"""

from __future__ import annotations

import re

import pytest
from textual_plotext.plot import Plot

from quanttui.ui.plot_layout import (
    OUTLIER_MARKER,
    Chart,
    Layout,
    Series,
    layout,
    robust_top,
    row_of,
    time_axis,
    value_axis,
)
from quanttui.ui.widgets.plots import draw

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def latency(slo: float, ys: list[float], xs: list[float] | None = None) -> Chart:
    xs = xs or [float(i) for i in range(len(ys))]
    series = (
        Series("bf16", xs, ys, "variant-1"),
        Series("awq", xs, [y * 0.8 for y in ys], "variant-2"),
    )
    return Chart(
        "p95 e2e (30 s window) · SLO", "p95 e2e", "ms", series, ((slo, "slo-line"),), xlim=(0.0, xs[-1] + 1)
    )


def throughput(ys: list[float]) -> Chart:
    xs = [float(i) for i in range(len(ys))]
    series = (
        Series("bf16", xs, ys, "variant-1"),
        Series("bf16 srv", xs, ys, "variant-1", marker="dot", legend=False),
    )
    return Chart(
        "lines: client (5 s mean) · dots: server", "dots: server", "tok/s", series, xlim=(0.0, len(ys))
    )


def rendered(chart: Chart, width: int, height: int) -> tuple[Layout, list[str]]:
    """The layout and plotext's plain text for the plot area (the header's lines taken off)."""
    frame = layout(chart, width, height)
    plt = Plot()
    draw(plt, frame, lambda _variable: "default")
    plot_height = height - len(frame.header)
    plt.plotsize(width, plot_height)
    plt._set_size(width, plot_height)
    plt.theme("clear")
    lines = _ANSI.sub("", plt.build()).rstrip("\n").split("\n")
    assert len(lines) == plot_height
    return frame, lines


def canvas_rows(frame: Layout, lines: list[str]) -> list[tuple[str, str, str]]:
    """(y label, canvas text, right edge) of each row between the frame's top and bottom edges.

    A horizontal line meets the right edge as "┤" (data drawn over it hide its "─" cells)."""
    width = frame.y.label_width
    top = next(i for i, line in enumerate(lines) if line[width : width + 1] == "┌")
    bottom = next(i for i, line in enumerate(lines) if line[width : width + 1] == "└")
    return [(line[:width].strip(), line[width + 1 : -1], line[-1]) for line in lines[top + 1 : bottom]]


# -- the outlier rule -------------------------------------------------------------------------------
def test_a_single_spike_does_not_set_the_top():
    values = [float(v % 40 + 60) for v in range(200)] + [1296.0]
    robust = robust_top(values)
    assert robust.top == 99.0 and robust.outliers == 1 and robust.peak == 1296.0


def test_clean_data_and_a_doubling_keep_their_maximum():
    assert robust_top([10.0, 20.0, 30.0]) == robust_top([30.0, 20.0, 10.0])
    assert robust_top([10.0, 20.0, 30.0]).top == 30.0 and robust_top([10.0, 20.0, 30.0]).outliers == 0
    ramp = [20.0] * 100 + [45.0]  # a new step just began at more than twice the old level
    assert robust_top(ramp).top == 45.0 and robust_top(ramp).outliers == 0
    assert robust_top([]).top == 0.0 and robust_top([5.0]).top == 5.0
    assert robust_top([0.0] * 50 + [80.0]).top == 80.0  # nothing to compare with: shown, not hidden


def test_two_percent_of_points_may_be_outliers_not_more():
    values = [100.0] * 200 + [900.0] * 4  # 2 % of 204 is 4: all four are outliers
    assert robust_top(values).top == 100.0 and robust_top(values).outliers == 4
    values = [100.0] * 200 + [900.0] * 6  # a sustained level is data
    assert robust_top(values).top == 900.0


# -- ticks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [4, 7, 9, 15, 40])
@pytest.mark.parametrize(("top", "slo"), [(10_435.0, 8000.0), (3000.0, 7519.4), (90.0, 100.0), (0.4, 0.25)])
def test_the_slo_is_a_labelled_tick_and_ticks_never_share_a_row(rows, top, slo):
    axis = value_axis(top, rows, [slo])
    assert slo in axis.ticks and axis.hi >= max(top, slo) and axis.lo == 0.0
    label = axis.labels[axis.ticks.index(slo)]
    assert float(label.replace(",", "")) == pytest.approx(slo, abs=0.5)
    used = [row_of(t, axis.lo, axis.hi, rows) for t in axis.ticks]
    assert len(set(used)) == len(used) and all(0 <= r < rows for r in used)
    assert len(axis.ticks) >= 2


def test_ticks_are_round_numbers_with_separators():
    axis = value_axis(12_000.0, 20, [8000.0])
    assert axis.labels == ("0", "2,000", "4,000", "6,000", "8,000", "10,000", "12,000")
    assert value_axis(0.0, 10, fixed=(0.0, 100.0)).labels[-1] == "100"
    assert value_axis(1.2, 10).labels[:3] == ("0.0", "0.5", "1.0")


def test_time_ticks_fit_and_the_last_carries_the_unit():
    axis = time_axis(0.0, 131.0, 60)
    assert axis.labels[-1].endswith(" s") and axis.labels[0] == "0"
    assert all(label.isdigit() for label in axis.labels[:-1])
    spacing = 60 * (axis.ticks[1] - axis.ticks[0]) / 131.0
    assert spacing >= len(axis.labels[-1]) + 2
    later = time_axis(595.0, 1195.0, 100)  # a window ten minutes into a session
    assert all(595 <= t <= 1195 for t in later.ticks) and later.labels[-1].endswith(" s")


# -- drawn by plotext -------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(40, 12), (40, 13), (60, 20), (66, 23), (97, 30)])
@pytest.mark.parametrize("slo", [8000.0, 7519.0, 1234.5])
def test_the_slo_line_is_drawn_on_the_row_labelled_with_the_slo(size, slo):
    chart = latency(slo, [3000.0, 4200.0, 6100.0, 9945.0, 10_435.0] * 6)
    frame, lines = rendered(chart, *size)
    rows = canvas_rows(frame, lines)
    label = frame.y.labels[frame.y.ticks.index(slo)]
    line_rows = [i for i, (_, text, edge) in enumerate(rows) if edge == "┤" and "──" in text]
    label_rows = [i for i, (tick, _, _) in enumerate(rows) if tick == label]
    assert len(line_rows) == 1 and line_rows == label_rows, (label, lines)


@pytest.mark.parametrize("size", [(40, 12), (66, 23), (200, 30)])
def test_a_spike_is_clipped_marked_and_named_not_the_scale(size):
    ys = [float(v % 30 + 70) for v in range(120)]
    ys[100] = 1296.0
    frame, lines = rendered(throughput(ys), *size)
    assert frame.y.hi < 120.0  # the top comes from the real peak (99) with headroom
    assert frame.off_scale.outliers == 2 and frame.off_scale.peak == 1296.0  # the line and its dots
    header = "".join(text for line in frame.header for text, _ in line)
    assert f"{OUTLIER_MARKER} 2 off-scale, max 1,296" in header
    top_row = canvas_rows(frame, lines)[0][1]  # the row of the axis top
    assert OUTLIER_MARKER in top_row
    assert all(y <= frame.y.hi for s in frame.series for y in s.ys)


@pytest.mark.parametrize("size", [(34, 12), (40, 12), (60, 20), (200, 30)])
def test_the_legend_is_outside_the_plot_and_every_axis_has_its_unit(size):
    chart = latency(8000.0, [3000.0, 5000.0, 9000.0, 7000.0] * 10)
    frame, lines = rendered(chart, *size)
    header = ["".join(text for text, _ in line) for line in frame.header]
    assert 1 <= len(header) <= 2 and all(len(line) <= size[0] for line in header)
    assert header[0].split()[0] == "ms"  # the y unit heads the y labels
    assert "bf16" in " ".join(header) and "awq" in " ".join(header)
    assert not any("bf16" in line or "awq" in line for line in lines)  # nothing inside the plot
    assert lines[-1].rstrip().endswith(" s") and frame.x.labels[-1].endswith(" s")


def test_a_fixed_axis_keeps_its_range():
    chart = Chart(
        "KV cache usage",
        "KV cache",
        "%",
        (Series("bf16", [0.0, 1.0], [5.0, 120.0], "variant-1"),),
        ylim=(0.0, 100.0),
        xlim=(0.0, 10.0),
    )
    frame = layout(chart, 60, 20)
    assert (frame.y.lo, frame.y.hi) == (0.0, 100.0) and frame.y.labels[-1] == "100"
    assert frame.series[0].ys == (5.0, 100.0) and frame.markers[0].xs == (1.0,)
