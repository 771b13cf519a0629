"""The Textual console driven by a recording replayed as fast as possible (Pilot, headless)."""

import asyncio
import json

import polars as pl
import pytest
from console_fakes import FakeLiveSession, FakeReplaySession, ProcessSample, settle
from textual.widgets import Input

from quanttui.core.aggregate import Aggregator
from quanttui.core.events import GpuUnavailable, InstanceState, LogLine
from quanttui.ui.app import QuanttuiApp
from quanttui.ui.run import exit_code, finish_session
from quanttui.ui.screens.help import HelpScreen
from quanttui.ui.screens.slo import SloScreen
from quanttui.ui.widgets.logs import LogPane
from quanttui.ui.widgets.meter import Meter
from quanttui.ui.widgets.plots import MetricPlot
from quanttui.ui.widgets.text import LiteralLine
from quanttui.ui.widgets.variant import VariantColumn

HOSTILE = "[bold red]boom[/] \x1b[31mred\x1b[0m \x1b]0;pwned\x07[link=http://x]y[/link]"


def column(app: QuanttuiApp, name: str) -> VariantColumn:
    return next(c for c in app.screen.query(VariantColumn) if c.variant == name)


def text(app: QuanttuiApp, selector: str, within=None) -> str:
    return (within or app.screen).query_one(selector, LiteralLine).value


def expected_knees(session) -> dict[str, int]:
    """The first concurrency over the SLO per variant, from the aggregator the summary uses."""
    agg = Aggregator(session.plan)
    for event in session.events:
        agg.consume(event)
    knees: dict[str, int] = {}
    for row in agg.all_step_stats():
        if row.slo_met is False:
            knees.setdefault(row.variant, row.conc)
    return knees


async def test_replay_shows_kv_step_knee_deltas_and_literal_logs(tmp_path):
    extra = [
        LogLine(t=17.9, variant="bf16", line=HOSTILE),
        InstanceState(t=17.9, variant="awq", state="failed", detail="[b]oops[/b]\x1b[2J"),
    ]
    session = FakeReplaySession(extra=extra)
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        for name in ("bf16", "awq"):
            last = [e for e in session.events if type(e).__name__ == "EngineSample" and e.variant == name][-1]
            kv_text = text(app, ".kv-text", column(app, name))
            assert kv_text == f"{last.kv_cache_usage * 100:5.1f}% of {last.kv_cache_size_tokens:,} tok"
        assert text(app, "#status-progress") == " 0:17/0:17 1x · step 4/4 c=8 "
        assert text(app, "#status-slo") == " SLO p95 e2e 800 ms "
        knees = expected_knees(session)
        assert knees == {"bf16": 8}
        assert text(app, "#status-knees") == " ◆ knee bf16 c=8 "
        knee_line = column(app, "bf16").query_one(".knee-line", LiteralLine)
        assert knee_line.display and knee_line.value.startswith("◆ knee at c=8 (p95 ")
        assert not column(app, "awq").query_one(".knee-line").display
        assert column(app, "bf16").query_one(".e2e-line").has_class("-over-slo")
        assert text(app, "#delta").startswith("awq vs bf16\ntok/s ×")
        # Foreign text is shown literally: markup as characters, escapes gone.
        assert (
            app.screen.query_one("#log-0", LogPane).texts[-1]
            == "[bold red]boom[/] red [link=http://x]y[/link]"
        )
        assert text(app, ".state-line", column(app, "awq")) == "● failed · [b]oops[/b]"
        assert column(app, "awq").has_class("-failed")
        assert text(app, "#status-mode") == " REPLAY "


async def test_startup_phases_show_progress_then_hide_when_ready(tmp_path):
    session = FakeReplaySession(until=2.3)  # bf16 is ready, awq is starting
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        bf16, awq = column(app, "bf16"), column(app, "awq")
        assert not bf16.query_one(".phase-row").display
        assert text(app, ".state-line", bf16).startswith("● ready · ready in 2.1 s")
        assert awq.query_one(".phase-row").display
        assert text(app, ".phase-label", awq) == "starting 1/6"
        assert awq.query_one(".state-line").has_class("-starting")
        assert text(app, "#status-progress").endswith("no step yet ")


async def test_no_gpu_shows_engine_process_memory(tmp_path):
    extra = [
        GpuUnavailable(t=17.9, reason="NVML Shared Library Not Found"),
        ProcessSample(t=17.9, variant="bf16", rss_mib=812.4, cpu_pct=97.0, pids=3),
    ]
    app = QuanttuiApp(FakeReplaySession(extra=extra), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert text(app, ".mem-line", column(app, "bf16")) == "no GPU · RSS 812 MiB · CPU 97% · 3 proc"
        assert text(app, ".mem-line", column(app, "awq")) == "no GPU"


async def test_live_keys_call_the_session_and_the_slo_modal_sets_the_slo(tmp_path):
    session = FakeLiveSession()
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("s", "p")
        await pilot.pause()
        app.refresh_view(force=True)
        assert "PAUSED" in text(app, "#status-flags")
        await pilot.press("p", "plus", "minus")
        assert session.calls == [("start_ramp",), ("pause",), ("resume",), ("step_up",), ("step_down",)]
        # Replay keys do nothing in a live session.
        await pilot.press("space", "left", "right_square_bracket")
        assert len(session.calls) == 5

        await pilot.press("l")
        assert isinstance(app.screen, SloScreen)
        assert app.screen.query_one(Input).value == "800"
        app.screen.query_one(Input).value = ""
        await pilot.press("0", "enter")
        assert isinstance(app.screen, SloScreen)  # 0 ms is refused, the modal stays
        assert "above 0" in app.screen.query_one("#slo-error", LiteralLine).value
        app.screen.query_one(Input).value = ""
        await pilot.press("2", "0", "0", "0", "enter")
        assert not isinstance(app.screen, SloScreen)
        assert session.calls[-1] == ("set_slo", 2000.0)
        await pilot.pause()
        app.refresh_view(force=True)
        # The session's OperatorCommand came back through the stream: new SLO, knee re-derived.
        assert app.state.slo_ms == 2000
        assert text(app, "#status-slo") == " SLO p95 e2e 2,000 ms "
        assert text(app, "#status-knees") == ""
        await pilot.press("l", "escape")
        assert session.calls[-1] == ("set_slo", 2000.0)
        await pilot.press("x")
        assert session.calls[-1] == ("stop",)


async def test_replay_keys_pause_step_seek_and_speed(tmp_path):
    session = FakeReplaySession()
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        end = session.duration
        await pilot.press("space", "full_stop", "n", "space", "right", "left")
        await pilot.press("left_square_bracket", "left_square_bracket", "right_square_bracket")
        assert session.calls == [
            ("pause",), ("step",), ("step",), ("resume",), ("seek", end), ("seek", end - 10),
            ("set_speed", 0.5), ("set_speed", 0.25), ("set_speed", 0.5),
        ]  # fmt: skip
        await pilot.press("s", "x", "l")  # live keys do nothing here
        assert len(session.calls) == 9 and not isinstance(app.screen, SloScreen)


async def test_seeking_back_resets_the_view_and_rebuilds_it(tmp_path):
    session = FakeReplaySession(hold_at_end=True)
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        before = app.state.variants["bf16"].requests
        logs_before = app.state.variants["bf16"].log_count
        await pilot.press("left")  # back 10 s: ReplayReset, then the events up to t
        while app.subscription.pending:
            await pilot.pause()
        app.refresh_view(force=True)
        await pilot.pause()
        assert app.state.resets == 1
        assert 0 < app.state.variants["bf16"].requests < before
        assert app.state.now <= session.duration - 10
        count = app.state.variants["bf16"].log_count
        assert 0 < count <= logs_before
        assert len(app.screen.query_one("#log-0", LogPane).texts) == min(count, 200)  # cleared, refilled


async def test_help_screen_opens_and_closes(tmp_path):
    app = QuanttuiApp(FakeReplaySession(), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = [line.value for line in app.screen.query(LiteralLine)]
        assert any("seek 10 s" in line for line in shown) and not any(
            "set the p95 SLO" in line for line in shown
        )
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_themes_from_files_and_switching_from_the_command_palette(tmp_path):
    app = QuanttuiApp(FakeReplaySession(), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        assert {"quanttui-dark", "quanttui-light", "quanttui-ansi"} <= set(app.available_themes)
        assert app.theme == "quanttui-dark"
        assert app.theme_variables["variant-1"].upper() == "#5FA8F0"
        await pilot.press("ctrl+p")
        await pilot.press(*"Theme: quanttui-light")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "quanttui-light"
        app.theme = "quanttui-ansi"
        await pilot.pause()
        assert app.current_theme.ansi


async def test_export_and_screenshot_write_into_the_out_dir(tmp_path):
    session = FakeReplaySession()
    app = QuanttuiApp(session, tmp_path / "out")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.action_export()
        app.action_screenshot()
        await pilot.pause()
    summary_path = tmp_path / "out" / "export-t00017s-summary.json"
    summary = json.loads(summary_path.read_text())
    assert [v["name"] for v in summary["variants"]] == ["bf16", "awq"]
    assert summary["variants"][0]["first_conc_over_slo"] == 8
    csv = pl.read_csv(tmp_path / "out" / "export-t00017s-sweep.csv")
    assert csv.height == 8  # 2 variants x 4 steps (bf16 retired after the last one)
    assert (tmp_path / "out" / "quanttui-replay-t00017s.svg").read_text().startswith("<svg")

    calls = []
    app = QuanttuiApp(FakeReplaySession(), tmp_path / "hook")
    app.on_export = lambda: calls.append("export") or []
    async with app.run_test(size=(120, 40)):
        app.action_export()
    assert calls == ["export"]


async def test_small_and_large_terminals(tmp_path):
    app = QuanttuiApp(FakeReplaySession(), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert not app.screen.query_one("#plots").display or app.screen.has_class("-short")
        assert app.screen.has_class("-narrow") and app.screen.has_class("-short")
        assert all(c.region.width >= 28 for c in app.screen.query(VariantColumn))
        assert app.screen.query_one("#status-row-2").display
    app = QuanttuiApp(FakeReplaySession(), tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(app, pilot)
        assert not app.screen.has_class("-short") and not app.screen.has_class("-narrow")
        plot = app.screen.query_one("#plot-p95", MetricPlot)
        assert plot.region.height > 10
        assert plot.chart is not None and plot.chart.hlines == ((800.0, "slo-line"),)
        assert [s.label for s in plot.chart.series] == ["bf16", "awq"] and plot.chart.vlines


async def test_frames_are_bounded_and_the_ui_subscription_drops(tmp_path):
    session = FakeReplaySession()
    app = QuanttuiApp(session, tmp_path, ui_queue=64)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.subscription.policy == "drop"
        assert app.subscription.dropped > 0  # 128 events per burst into a 64-event queue
        assert "dropped" in text(app, "#status-counters")
        assert app.frames < 30  # frames come from the timer, not from events


async def test_quit_stops_a_live_session_and_awaits_it(tmp_path):
    session = FakeLiveSession()
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        await asyncio.wait_for(app.session_task, 5)
    assert session.calls == [("stop",)]
    assert exit_code(app) == 0


async def test_finish_session_stops_a_session_left_running(tmp_path):
    session = FakeLiveSession()
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.exit()  # the app ends without the quit key (a crash, a closed terminal)
    assert not app.session_task.done()
    await finish_session(app, grace_s=5)
    assert app.session_task.done() and session.calls == [("stop",)]


async def test_a_failing_session_is_shown_and_gives_exit_code_1(tmp_path):
    session = FakeReplaySession()

    async def broken():
        raise RuntimeError("engine exploded [bold]")

    session.run = broken
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await asyncio.wait_for(asyncio.shield(app.session_task), 5)
        await pilot.pause()
        assert app.session_error is not None
    assert exit_code(app) == 1


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_four_variants_fit(tmp_path, size):
    session = FakeReplaySession()
    session.variants = ["bf16", "awq", "rtn", "gptq"]
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        columns = list(app.screen.query(VariantColumn))
        assert len(columns) == 4
        assert app.screen.query_one("#delta").has_class("-row")
        widths = {c.region.width for c in columns}
        assert min(widths) >= 28


async def test_variants_known_only_from_events_get_columns(tmp_path):
    session = FakeReplaySession()
    session.variants = []  # e.g. a recording whose header lists none
    app = QuanttuiApp(session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert [c.variant for c in app.screen.query(VariantColumn)] == ["bf16", "awq"]
        assert text(app, "#status-knees") == " ◆ knee bf16 c=8 "


async def test_meter_draws_from_its_current_width(tmp_path):
    app = QuanttuiApp(FakeReplaySession(), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        meter = column(app, "bf16").query_one(".kv-bar", Meter)
        meter.fraction = 0.25
        await pilot.pause()
        width = meter.size.width
        drawn = meter.render().plain
        assert len(drawn) == width and drawn.startswith("━" * int(width / 4))
        assert meter.get_component_rich_style("meter--fill") != meter.get_component_rich_style("meter--track")


async def test_an_event_the_state_cannot_fold_is_skipped_and_reported(tmp_path):
    from quanttui.core.events import RequestResult

    broken = RequestResult(t=1.0, variant="bf16", step=0, index=0, warmup=False, start=0.5, ok=True,
                           output_tokens="many")  # type: ignore[arg-type]  # fmt: skip
    app = QuanttuiApp(FakeReplaySession(extra=[broken]), tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert app.fold_errors == 1
        assert app.state.sweep_end == "completed"  # everything else still folded
