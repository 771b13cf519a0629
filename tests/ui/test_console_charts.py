"""The monitor's charts on the shipped bf16/AWQ recording, as the console draws them.

The recording has one server-rate scrape of 1,296 tok/s (the rest stay under 360), an 8,000 ms
SLO and two variants: the tok/s axis must not be set by the spike, the SLO line must sit on the
row labelled 8,000, the legend must be above the plot area, and every axis must name its unit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from console_helpers import recording_copy, replay_app, settle

from quanttui.ui.run import finish_session
from quanttui.ui.widgets.plots import MetricPlot

SHIPPED = Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl"
UNITS = {"plot-tok": "tok/s", "plot-p95": "ms", "plot-kv": "%"}


def drawn(plot: MetricPlot) -> tuple[list[str], list[str]]:
    """The plot as the console shows it: (header lines, plot lines)."""
    lines = plot.render().plain.split("\n")
    assert plot.frame is not None and len(lines) == plot.size.height
    return lines[: len(plot.frame.header)], lines[len(plot.frame.header) :]


@pytest.mark.parametrize("size", [(120, 36), (200, 60)])
async def test_charts_of_the_shipped_recording_read_at_a_glance(tmp_path, size):
    app = replay_app(tmp_path, recording_copy(tmp_path, source=SHIPPED, name="bf16-awq.jsonl"))
    try:
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            # The time charts (the knee charts, with load on x, have tests/ui/test_load_chart.py).
            plots = {p.id: p for p in app.screen.query(MetricPlot) if p.id in UNITS and p.display}
            assert sorted(plots) == sorted(UNITS if size[0] >= 160 else set(UNITS) - {"plot-kv"})
            for name, plot in plots.items():
                header, body = drawn(plot)
                frame = plot.frame
                assert frame is not None
                # Units: the y unit heads the header, the x axis's last label is in seconds.
                assert header[0].split()[0] == UNITS[name], header
                assert body[-1].rstrip().endswith(" s"), body[-1]
                # The legend is in the header, never inside the plot.
                legend = " ".join(header)
                assert "━ bf16" in legend and "━ awq" in legend, header
                assert not any(line.endswith("…") for line in header), header  # nothing cut
                assert not any("bf16" in line or "awq" in line for line in body), body

            tok = plots["plot-tok"].frame
            assert tok is not None and tok.off_scale.peak == pytest.approx(1296.46, abs=0.01)
            assert tok.y.hi < 400.0 and tok.off_scale.outliers == 1  # not 1,296
            assert "▲ off-scale: 1,296" in " ".join(drawn(plots["plot-tok"])[0])

            p95 = plots["plot-p95"]
            assert p95.frame is not None and 8000.0 in p95.frame.y.ticks
            width = p95.frame.y.label_width
            _, body = drawn(p95)
            labelled = [i for i, line in enumerate(body) if line[:width].strip() == "8,000"]
            slo_line = [
                i
                for i, line in enumerate(body)
                if line[width : width + 1] == "├" and line.rstrip()[-1] == "┤"
            ]
            assert len(labelled) == 1 and slo_line == labelled, body
    finally:
        await finish_session(app, grace_s=10)
