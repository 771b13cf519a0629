"""The knee chart in the running console (issue 17): the first chart at 80x24 and leading the
charts at 200x60, drawn from the state the console folded; a seek back hides the later steps; `y`
cycles its metric; the Compare screen heads with it when the session ran steps."""

from __future__ import annotations

from pathlib import Path

from console_helpers import decided_recording, redraw, replay_app, running, settle, wait_until

from quanttui.session.commands import Seek
from quanttui.ui.app import QuanttuiApp
from quanttui.ui.load_chart import TOK_S, LoadChart, load_chart
from quanttui.ui.screens.compare import CompareScreen
from quanttui.ui.widgets.plots import MetricPlot


def shown(app: QuanttuiApp, plot_id: str) -> LoadChart | None:
    chart = app.screen.query_one(f"#{plot_id}", MetricPlot).chart
    return chart if isinstance(chart, LoadChart) else None


def loads(chart: LoadChart | None) -> dict[str, list[int]]:
    assert chart is not None
    return {line.variant: [p.load for p in line.points] for line in chart.lines}


async def test_at_80x24_the_knee_chart_is_shown_and_a_seek_back_hides_later_steps(tmp_path: Path):
    app = replay_app(tmp_path, decided_recording(tmp_path))
    async with running(app, (80, 24)) as pilot:
        await settle(app, pilot)
        plot = app.screen.query_one("#plot-knee", MetricPlot)
        assert plot.display and plot.region.height >= 9 and plot.region.y + plot.region.height <= 22
        assert not app.screen.query_one("#plots").display  # the time charts: a taller terminal's
        at_end = loads(shown(app, "plot-knee"))
        assert at_end == {"bf16": [1, 2, 4], "awq": [1, 2, 4, 8]}
        assert shown(app, "plot-knee") == load_chart(app.state)
        assert plot.frame is not None and any(s.marker == "┆" for s in plot.frame.series)  # capacities

        await pilot.press("space")  # paused, so the seek stays where it lands
        await wait_until(
            pilot, lambda: app.state.replay is not None and app.state.replay.paused, what="paused"
        )
        app.send(Seek(6.0))  # after the steps at c=1 and 2 (they end at 2.8 and 4.8 s), before 4 and 8
        await wait_until(
            pilot, lambda: app.state.resets == 1 and len(app.state.steps_done) == 2, what="the seek"
        )
        await redraw(app, pilot)
        # The steps at c=1 and 2, and the one at c=4 as it stood at 6 s (running, hollow); not c=8.
        at_6s = {"bf16": [1, 2, 4], "awq": [1, 2, 4]}
        await wait_until(pilot, lambda: loads(shown(app, "plot-knee")) == at_6s, what="the chart at 6 s")
        open_step = [p for line in shown(app, "plot-knee").lines for p in line.points if p.running]
        assert [p.load for p in open_step] == [4, 4] and not any(p.decided for p in open_step)
        assert shown(app, "plot-knee") == load_chart(app.state)
        await pilot.press("left")  # 10 s back: the start, before any step
        await wait_until(pilot, lambda: app.state.resets == 2, what="the seek to the start")
        await redraw(app, pilot)
        await wait_until(
            pilot, lambda: loads(shown(app, "plot-knee")) == {"bf16": [], "awq": []}, what="no step"
        )


async def test_y_cycles_the_knee_charts_metric_and_back(tmp_path: Path):
    app = replay_app(tmp_path, decided_recording(tmp_path))
    async with running(app, (80, 24)) as pilot:
        await settle(app, pilot)
        assert shown(app, "plot-knee").unit == "ms"
        await pilot.press("y")
        await wait_until(pilot, lambda: shown(app, "plot-knee").unit == TOK_S, what="tok/s per step")
        assert shown(app, "plot-knee") == load_chart(app.state, TOK_S)
        await pilot.press("y")
        await wait_until(pilot, lambda: shown(app, "plot-knee").unit == "ms", what="back to the SLO's p95")


async def test_at_200x60_the_knee_chart_leads_the_charts_over_its_tok_s_twin(tmp_path: Path):
    app = replay_app(tmp_path, decided_recording(tmp_path))
    async with running(app, (200, 60)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert not screen.query_one("#plot-knee", MetricPlot).display
        latency, twin = (
            screen.query_one("#plot-load", MetricPlot),
            screen.query_one("#plot-load-tok", MetricPlot),
        )
        time_charts = [screen.query_one(f"#{i}", MetricPlot) for i in ("plot-tok", "plot-p95", "plot-kv")]
        assert latency.region.x < min(c.region.x for c in time_charts)  # first in the row
        assert latency.region.width > max(c.region.width for c in time_charts)
        assert twin.region.x == latency.region.x and twin.region.y > latency.region.y  # one above the other
        assert shown(app, "plot-load") == load_chart(app.state)
        assert shown(app, "plot-load-tok") == load_chart(app.state, TOK_S)


async def test_the_compare_screen_heads_with_the_knee_chart_when_the_session_ran_steps(tmp_path: Path):
    app = replay_app(tmp_path, decided_recording(tmp_path))
    async with running(app, (120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the Compare screen")
        knee = app.screen.query_one("#cmp-knee", MetricPlot)
        await wait_until(pilot, lambda: knee.chart == load_chart(app.state), what="the knee strip")
        assert knee.display and knee.region.height >= 8
