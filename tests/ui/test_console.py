"""The Textual console (Pilot, headless) on real sessions.

Replays: the UI recording through a real `ReplaySession` as fast as possible, held at its end
(a copy changed for one test where it needs other events). Live keys: a real `LiveSession`
attached to simulated servers. Tests wait on what the session published, never for a fixed time,
and check what the session did on its own stream or in its recording.
"""

import asyncio
import json
import math
import os
import signal
import sys
import time

import polars as pl
import psutil
import pytest
from console_helpers import (
    UI_RECORDING,
    ConsoleApp,
    Seen,
    commands_in,
    console,
    live_config,
    ramp_states_in,
    recorded_events,
    recording_copy,
    redraw,
    replay_app,
    replay_session,
    running,
    settle,
    wait_until,
)
from textual.command import CommandList, CommandPalette
from textual.widgets import Input

from quanttui.core.events import (
    EngineSample,
    Event,
    GpuUnavailable,
    InstanceState,
    LogLine,
    OperatorCommand,
    ProcessSample,
    RequestResult,
)
from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.core.recording import plan_from_header
from quanttui.core.triage import Tag
from quanttui.core.verdict import fold_verdict
from quanttui.io.config import VariantConfig
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.io.recording_file import read_recording
from quanttui.session import LiveSession, ReplaySession, SweepConfig
from quanttui.session.commands import Pause, Resume, TagOutput
from quanttui.session.handle import SessionHandle
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
PROMPTS = list(DEFAULT_PROMPTS)
SIM = (sys.executable, "-m", "quanttui.sim.server")


def column(app: QuanttuiApp, name: str) -> VariantColumn:
    return next(c for c in app.screen.query(VariantColumn) if c.variant == name)


def text(app: QuanttuiApp, selector: str, within=None) -> str:
    return (within or app.screen).query_one(selector, LiteralLine).value


def expected_capacities(events: list[Event], plan) -> dict[str, str]:
    """Each variant's capacity in the report's words, from a fold of its own (core/verdict.py)."""
    fold = SessionFold(plan)
    for event in events:
        fold.apply(event)
    return {c.variant: c.holds_text() for c in fold_verdict(fold).capacities}


# -- a replay ---------------------------------------------------------------------------------------
async def test_replay_shows_kv_step_knee_deltas_and_literal_logs(tmp_path):
    extra = [
        LogLine(t=17.9, variant="bf16", line=HOSTILE),
        InstanceState(t=17.9, variant="awq", state="failed", detail="[b]oops[/b]\x1b[2J"),
    ]
    path = recording_copy(tmp_path, extra=extra)
    app = replay_app(tmp_path, path, own_thread=True)  # the session on its own thread, as shipped
    async with running(app, (160, 50)) as pilot:
        await settle(app, pilot)
        recording, events = read_recording(path)
        for name in ("bf16", "awq"):  # both engines are gone at the end: no KV usage now, their size stays
            last = [e for e in events if isinstance(e, EngineSample) and e.variant == name][-1]
            assert text(app, ".kv-text", column(app, name)) == f"— of {last.kv_cache_size_tokens:,} tok"
        assert text(app, "#status-progress") == " 0:17/0:17 max · step 4/4 c=8 "
        assert text(app, "#status-slo") == " SLO p95 e2e 800 ms "
        # bf16's p95 went over the SLO at c=8 (a decided breach), but 12 requests a step cannot
        # decide "meets": both capacities are undecided at c=1, as the report says.
        capacities = expected_capacities(events, plan_from_header(recording.header, path))
        assert capacities["bf16"].startswith("holds none, undecided at 1 (386 ms [385, —]")
        assert capacities["awq"].startswith("holds none, undecided at 1 (227 ms [226, —]")
        assert text(app, "#status-capacity") == " ◆ bf16 undecided at 1 · awq undecided at 1 "
        assert text(app, ".capacity-line", column(app, "bf16")).startswith(
            "holds none · undecided at 1: p95 e2e "
        )
        assert text(app, ".decision-line", column(app, "bf16")).endswith(" n=12 · breaches")
        assert text(app, ".decision-line", column(app, "awq")).endswith(" n=12 · undecided")
        assert text(app, "#status-verdict").startswith("inconclusive at p95 e2e <= 800 ms: bf16 holds none")
        # The engine is gone: no live window to mark over the SLO; its last step's breach is marked.
        assert not column(app, "bf16").query_one(".e2e-line").has_class("-over-slo")
        assert column(app, "bf16").query_one(".decision-line").has_class("-breaches")
        assert text(app, "#delta").startswith("awq vs bf16\nsteps at c=8\ntok/s     ×")
        # Foreign text is shown literally: markup as characters, escapes gone.
        assert (
            app.screen.query_one("#log-0", LogPane).texts[-1]
            == "[bold red]boom[/] red [link=http://x]y[/link]"
        )
        assert text(app, ".state-line", column(app, "awq")) == "● failed · [b]oops[/b]"
        assert column(app, "awq").has_class("-failed")
        assert text(app, "#status-mode") == " REPLAY "
        assert app.state.sweep_end == "completed" and "sweep completed" in text(app, "#status-flags")


async def test_startup_phases_show_progress_then_hide_when_ready(tmp_path):
    app = replay_app(tmp_path, recording_copy(tmp_path, until=2.3))  # bf16 is ready, awq is starting
    async with running(app, (120, 40)) as pilot:
        await settle(app, pilot)
        bf16, awq = column(app, "bf16"), column(app, "awq")
        assert not bf16.query_one(".phase-row").display
        assert text(app, ".state-line", bf16).startswith("● ready · ready in 2.1 s")
        assert awq.query_one(".phase-row").display
        assert text(app, ".phase-label", awq) == "starting 1/6"
        assert awq.query_one(".state-line").has_class("-starting")
        assert text(app, "#status-progress") == " 0:02/0:02 max · no step yet "


async def test_no_gpu_shows_engine_process_memory(tmp_path):
    extra = [
        GpuUnavailable(t=17.3, reason="NVML Shared Library Not Found"),
        ProcessSample(t=17.3, variant="bf16", rss_mib=812.4, cpu_pct=97.0, pids=3),
    ]
    app = replay_app(tmp_path, recording_copy(tmp_path, extra=extra, until=17.4))  # before the engines stop
    async with running(app, (120, 40)) as pilot:
        await settle(app, pilot)
        assert text(app, ".mem-line", column(app, "bf16")) == "no GPU · RSS 812 MiB · CPU 97% · 3 proc"
        assert text(app, ".mem-line", column(app, "awq")) == "no GPU"


async def test_a_recorded_slo_change_re_derives_the_capacity(tmp_path):
    extra = [OperatorCommand(t=17.9, command="set_slo", value=300.0)]
    app = replay_app(tmp_path, recording_copy(tmp_path, extra=extra))
    async with running(app, (120, 40)) as pilot:
        await settle(app, pilot)
        assert app.state.slo_ms == 300
        assert text(app, "#status-slo") == " SLO p95 e2e 300 ms "
        # bf16's c=1 interval [385, —] is now all over the SLO: a decided breach at its lowest
        # step; awq's [226, —] still straddles it.
        assert text(app, "#status-capacity") == " ◆ bf16 breaches at 1 · awq undecided at 1 "
        assert text(app, ".capacity-line", column(app, "bf16")).startswith("breaches at 1 (its lowest step)")
        assert column(app, "bf16").query_one(".capacity-line").has_class("-decided")
        assert text(app, "#status-verdict").startswith(
            "inconclusive at p95 e2e <= 300 ms: bf16 breaches at 1"
        )


async def test_replay_keys_pause_step_seek_and_speed(tmp_path):
    session = replay_session()
    seen = Seen(session.stream)
    app = console(session, tmp_path)
    end = session.info.duration

    def replay():
        return app.state.replay

    async with running(app, (120, 40)) as pilot:
        await settle(app, pilot)
        assert replay().speed == 0 and text(app, "#status-progress").startswith(" 0:17/0:17 max ")

        await pilot.press("space")
        await wait_until(pilot, lambda: replay().paused, what="paused")
        await redraw(app, pilot)
        assert "PAUSED" in text(app, "#status-flags")

        await pilot.press("left")  # 10 s back while paused: the replay starts over and halts there
        await wait_until(pilot, lambda: app.state.resets == 1 and not replay().at_end, what="the seek")
        here = replay().position
        assert end - 11 < here <= end - 10 and replay().paused

        for key in ("full_stop", "n"):  # one recorded event each
            before = len(seen.replayed())
            await pilot.press(key)
            await wait_until(pilot, lambda here=here: replay().position > here, what=f"a step ({key})")
            assert len(seen.replayed()) == before + 1
            assert replay().position == seen.replayed()[-1].t and replay().paused
            here = replay().position

        await pilot.press("left_square_bracket")  # from as fast as possible to the fastest notch
        await wait_until(pilot, lambda: replay().speed == 64, what="64x")
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: replay().speed == 32, what="32x")
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: replay().speed == 64, what="64x again")
        speeds = [s.speed for s in seen.replay_statuses()]
        assert [s for i, s in enumerate(speeds) if i == 0 or s != speeds[i - 1]] == [0, 64, 32, 64]
        await redraw(app, pilot)
        assert " 64x · " in text(app, "#status-progress")
        assert replay().position == here  # paused: the speed changes nothing else

        await pilot.press("space")  # plays on at 64x to the end
        await wait_until(pilot, lambda: replay().at_end and not replay().paused, what="the end")
        await pilot.press("right")  # at the end: nowhere to go
        await wait_until(pilot, lambda: not app.subscription.pending)
        assert app.state.resets == 1 and replay().position == end

        # Live keys do nothing in a replay: no start, no stop, no SLO modal.
        statuses = len(seen.replay_statuses())
        await pilot.press("s", "x", "p", "plus", "R", "l")
        assert not isinstance(app.screen, SloScreen)
        assert seen.commands() == [] and len(seen.replay_statuses()) == statuses
        assert not app.session_task.done()

        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), what="the replay to stop")
    assert exit_code(app) == 0


async def test_seeking_back_resets_the_view_and_rebuilds_it(tmp_path):
    session = replay_session()
    app = console(session, tmp_path)
    async with running(app, (120, 40)) as pilot:
        await settle(app, pilot)
        before = app.state.variants["bf16"].requests
        logs_before = app.state.variants["bf16"].log_count
        await pilot.press("space")  # paused, a seek halts where it lands
        await pilot.press("left")  # back 10 s: ReplayReset, then the events up to t
        await wait_until(
            pilot,
            lambda: app.state.resets == 1 and not app.state.replay.at_end and not app.subscription.pending,
        )
        await redraw(app, pilot)
        assert 0 < app.state.variants["bf16"].requests < before
        assert app.state.now <= session.info.duration - 10
        count = app.state.variants["bf16"].log_count
        assert 0 < count <= logs_before
        assert len(app.screen.query_one("#log-0", LogPane).texts) == min(count, 200)  # cleared, refilled

        await pilot.press("space")  # playing on as fast as possible rebuilds the same picture
        await settle(app, pilot)
        assert app.state.resets == 1
        assert app.state.variants["bf16"].requests == before
        assert app.state.variants["bf16"].log_count == logs_before
        assert text(app, "#status-capacity") == " ◆ bf16 undecided at 1 · awq undecided at 1 "


async def test_help_screen_opens_and_closes(tmp_path):
    app = replay_app(tmp_path)
    async with running(app, (100, 30)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = [line.value for line in app.screen.query(LiteralLine)]
        assert any("seek 10 s" in line for line in shown) and not any(
            "set the p95 SLO" in line for line in shown
        )
        words = " ".join(shown)  # the capacity words of the report, no point-p95 "knee"
        assert all(w in words for w in ('"holds 4"', '"breaches at 8"', '"undecided at 8"', "interval"))
        assert "knee" not in words
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_themes_from_files_and_switching_from_the_command_palette(tmp_path):
    app = replay_app(tmp_path)
    async with running(app, (120, 40)) as pilot:
        assert {"quanttui-dark", "quanttui-light", "quanttui-ansi"} <= set(app.available_themes)
        assert app.theme == "quanttui-dark"
        assert app.theme_variables["variant-1"].upper() == "#5FA8F0"
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"Theme: quanttui-light")

        def found() -> bool:
            commands = app.screen.query_one(CommandList)
            return commands.highlighted is not None and "quanttui-light" in str(
                commands.get_option_at_index(commands.highlighted).prompt
            )

        await wait_until(pilot, found, what="the theme command")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "quanttui-light", what="the light theme")
        app.theme = "quanttui-ansi"
        await pilot.pause()
        assert app.current_theme.ansi


async def test_export_and_screenshot_write_into_the_out_dir(tmp_path):
    out = tmp_path / "out"
    app = replay_app(out)
    async with running(app, (120, 40)) as pilot:
        await settle(app, pilot)
        app.action_export()  # a job on the session's side: its files come back in a notification
        app.action_screenshot()
        await wait_until(pilot, lambda: any(title == "exported" for title, _, _ in app.told), what="the job")
    summary_path = out / "export-t00017s-summary.json"
    csv_path = out / "export-t00017s-sweep.csv"
    assert ("exported", f"{summary_path}\n{csv_path}", "information") in app.told
    summary = json.loads(summary_path.read_text())
    assert [v["name"] for v in summary["variants"]] == ["bf16", "awq"]
    # The export says what the console said: the same capacity in the same words.
    assert summary["variants"][0]["capacity"] == app.state.capacity["bf16"].holds_text()
    assert summary["variants"][0]["capacity_status"] == "undecided"
    csv = pl.read_csv(csv_path)
    assert csv.height == 8  # 2 variants x 4 steps (bf16 retired after the last one)
    screenshot = out / "quanttui-replay-t00017s.svg"
    assert screenshot.read_text().startswith("<svg")
    assert ("screenshot saved", str(screenshot), "information") in app.told


async def test_a_failed_job_or_command_is_shown(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    path = recording_copy(tmp_path)  # a tag would go to a journal beside the recording
    app = replay_app(blocked, path)
    async with running(app, (100, 30)) as pilot:
        await settle(app, pilot)
        app.action_export()
        await wait_until(pilot, lambda: any(s == "error" for _, _, s in app.told), what="the failed job")
        ((title, message, _),) = [n for n in app.told if n[2] == "error"]
        assert message.startswith("exported failed: ") and "not-a-folder" in message
        app.send(TagOutput(Tag("p1", "awq", "bogus", "", "", "2026-01-01T00:00:00+00:00")))
        await wait_until(
            pilot, lambda: len([n for n in app.told if n[2] == "error"]) == 2, what="the command"
        )
        assert app.told[-1] == ("", "TagOutput failed: unknown verdict 'bogus'", "error")
    assert not blocked.is_dir() and not (tmp_path / "ui-sim.tags.jsonl").exists()


async def test_small_and_large_terminals(tmp_path):
    app = replay_app(tmp_path)
    async with running(app, (80, 24)) as pilot:
        await settle(app, pilot)
        assert not app.screen.query_one("#plots").display  # 24 rows: no room for charts
        assert app.screen.has_class("-narrow") and app.screen.has_class("-short")
        assert all(c.region.width >= 28 for c in app.screen.query(VariantColumn))
        assert app.screen.query_one("#status-row-2").display
        for name in ("bf16", "awq"):  # shortened to fit, never without the decision word
            for line, word in ((".capacity-line", "undecided at 1"), (".decision-line", "c=8: ")):
                widget = column(app, name).query_one(line, LiteralLine)
                assert word in widget.value and len(widget.value) <= widget.content_size.width
        assert text(app, ".decision-line", column(app, "bf16")).startswith("c=8: breaches")
    app = replay_app(tmp_path)
    async with running(app, (200, 60)) as pilot:
        await settle(app, pilot)
        assert not app.screen.has_class("-short") and not app.screen.has_class("-narrow")
        plot = app.screen.query_one("#plot-p95", MetricPlot)
        assert plot.region.height > 10
        assert plot.chart is not None and plot.chart.hlines == ((800.0, "slo-line"),)
        assert [s.label for s in plot.chart.series] == ["bf16", "awq"] and plot.chart.vlines


async def test_plots_are_drawn_after_the_screen_rebuilds_its_widgets(tmp_path):
    app = replay_app(tmp_path)
    async with running(app, (200, 60)) as pilot:
        await settle(app, pilot)
        shown = [p for p in app.screen.query(MetricPlot) if p.display]  # #plot-knee is the short layout's
        assert len(shown) == 5 and all(p.chart is not None for p in shown)
        # The columns are rebuilt (as when a variant first appears) while no event comes.
        await app.monitor.follow_variants(["bf16"])
        await wait_until(pilot, lambda: app.monitor.names == ["bf16", "awq"] and not app.monitor.recomposing)
        await redraw(app, pilot)
        assert [p.chart is not None for p in app.screen.query(MetricPlot) if p.display] == [True] * 5


async def test_frames_are_bounded_and_a_ui_that_falls_behind_drops_and_says_so(tmp_path):
    session = replay_session()  # paused until the test says
    seen = Seen(session.stream)
    app = ConsoleApp(SessionHandle(session, own_thread=True), tmp_path, ui_queue=64)
    async with running(app, (120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.replay is not None and app.state.replay.paused)
        assert app.subscription.policy == "drop" and app.subscription.maxsize == 64
        app.send(Resume())
        # The UI's loop is busy (blocked here) while the whole recording is published on the
        # session's thread: the replay waits a moment for the console, then goes on without it.
        deadline = time.monotonic() + 30
        while not any(s.at_end for s in seen.replay_statuses()):
            assert time.monotonic() < deadline, "the replay did not reach its end"
            time.sleep(0.01)
        assert app.subscription.pending == 64 and app.subscription.dropped > 0
        assert app.fold_pending() == 64  # the UI's loop is free again: what fitted is folded
        app.send(Pause())  # a new ReplayStatus (paused, at the end): the one at the end was dropped
        await settle(app, pilot)
        published = len(seen.events)
        assert app.subscription.delivered + app.subscription.dropped == published
        assert app.state.events < 511  # the recording's events, not all folded
        assert f"{app.subscription.dropped:,} dropped" in text(app, "#status-counters")
        assert app.frames < 30  # frames come from the timer, not from events


# -- the session's end ------------------------------------------------------------------------------
async def test_a_failing_session_is_shown_and_gives_exit_code_1(tmp_path):
    class BrokenReplay(ReplaySession):
        async def run(self):
            raise RuntimeError("engine exploded [bold]")

    app = console(BrokenReplay(UI_RECORDING, speed=None, hold_at_end=True), tmp_path)
    async with running(app, (100, 30)) as pilot:
        await wait_until(pilot, lambda: app.session_task.done(), what="the session to fail")
        await pilot.pause()
        assert isinstance(app.session_error, RuntimeError)
        assert ("quanttui", "session failed: engine exploded [bold]", "error") in app.told
    assert exit_code(app) == 1


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_four_variants_fit(tmp_path, size):
    app = replay_app(tmp_path, recording_copy(tmp_path, variants=["bf16", "awq", "rtn", "gptq"]))
    async with running(app, size) as pilot:
        await settle(app, pilot)
        columns = list(app.screen.query(VariantColumn))
        assert [c.variant for c in columns] == ["bf16", "awq", "rtn", "gptq"]
        assert app.screen.query_one("#delta").has_class("-row")
        widths = {c.region.width for c in columns}
        assert min(widths) >= 28


async def test_variants_known_only_from_events_get_columns(tmp_path):
    path = recording_copy(tmp_path, variants=[])  # e.g. a recording whose header lists none
    app = replay_app(tmp_path, path)
    assert app.info.variants == ()
    async with running(app, (120, 40)) as pilot:
        await settle(app, pilot)
        assert [c.variant for c in app.screen.query(VariantColumn)] == ["bf16", "awq"]
        assert text(app, "#status-capacity") == " ◆ bf16 undecided at 1 · awq undecided at 1 "


async def test_meter_draws_from_its_current_width(tmp_path):
    app = replay_app(tmp_path)
    async with running(app, (120, 40)) as pilot:
        await settle(app, pilot)
        meter = column(app, "bf16").query_one(".kv-bar", Meter)
        meter.fraction = 0.25
        await pilot.pause()
        width = meter.size.width
        drawn = meter.render().plain
        assert len(drawn) == width and drawn.startswith("━" * int(width / 4))
        assert meter.get_component_rich_style("meter--fill") != meter.get_component_rich_style("meter--track")


async def test_an_event_the_state_cannot_fold_is_skipped_and_reported(tmp_path):
    # Well-formed for the recording (a number where a number goes), but its TTFT is NaN: the
    # console's per-second token series cannot place it.
    broken = RequestResult(t=5.0, variant="bf16", step=0, index=99, warmup=True, start=4.9, ok=True,
                           ttft=math.nan, e2e=0.1, output_tokens=4)  # fmt: skip
    app = replay_app(tmp_path, recording_copy(tmp_path, extra=[broken]))
    async with running(app, (100, 30)) as pilot:
        await settle(app, pilot)
        assert app.fold_errors == 1
        assert app.state.sweep_end == "completed"  # everything after it still folded
        (warning,) = [n for n in app.told if n[2] == "warning"]
        assert warning[1].startswith("skipped an event it could not show: ValueError(")


# -- a live session on simulated servers ------------------------------------------------------------
def attached(tmp_path, sim_server, requests_per_step: int = 100_000) -> LiveSession:
    """Two simulated engines, light enough that the console stays idle between keys; a step
    longer than any test, so the operator's keys end it."""
    servers = {
        "bf16": sim_server("m-bf16", ttft_ms=150, itl_ms=50, kv_cache_tokens=512),
        "awq": sim_server("m-awq", ttft_ms=100, itl_ms=40, kv_cache_tokens=2048),
    }
    plan = LoadPlan(concurrencies=(1, 2, 4), requests_per_step=requests_per_step, slo=Slo(800.0))
    return LiveSession(live_config(tmp_path, servers, plan), PROMPTS, autostart=False)


def attached_and_waiting(app: QuanttuiApp) -> bool:
    return len(app.state.variants) == 2 and all(v.state == "attached" for v in app.state.variants.values())


async def test_live_keys_drive_the_ramp_and_the_slo_modal_sets_the_slo(tmp_path, sim_server):
    session = attached(tmp_path, sim_server)
    seen = Seen(session.stream)
    app = console(session, tmp_path)
    async with running(app, (120, 40)) as pilot:
        await wait_until(pilot, lambda: attached_and_waiting(app), what="both endpoints")
        await redraw(app, pilot)
        assert text(app, "#status-mode") == " LIVE " and text(app, "#status-slo") == " SLO p95 e2e 800 ms "
        # Replay keys do nothing in a live session (space would pause the ramp).
        await pilot.press("space", "left", "right_square_bracket", "full_stop")
        assert seen.commands() == []

        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.step is not None, what="the first step")
        assert app.state.ramp_state == "running"
        await pilot.press("p")
        await wait_until(pilot, lambda: app.state.ramp_state == "paused", what="the ramp paused")
        await redraw(app, pilot)
        assert "PAUSED" in text(app, "#status-flags")
        await pilot.press("plus", "minus")
        await wait_until(pilot, lambda: len(seen.commands()) == 4, what="step up and down")
        await pilot.press("R")  # attached endpoints: nothing to restart, and it says why
        assert app.told[-1] == (
            "quanttui",
            "nothing to restart: these endpoints were not started by quanttui",
            "warning",
        )
        assert not any("restarting" in message for _, message, _ in app.told)

        await pilot.press("l")
        assert isinstance(app.screen, SloScreen)
        assert app.screen.query_one(Input).value == "800"
        await pilot.press("0", "enter")  # the first digit replaces the 800 shown
        assert isinstance(app.screen, SloScreen)  # 0 ms is refused, the modal stays
        assert "above 0" in app.screen.query_one("#slo-error", LiteralLine).value
        await pilot.press("backspace", "2", "0", "0", "0", "enter")
        assert not isinstance(app.screen, SloScreen)
        # The session's OperatorCommand came back through the stream: the SLO in force changed.
        await wait_until(pilot, lambda: app.state.slo_ms == 2000, what="the new SLO")
        await redraw(app, pilot)
        assert text(app, "#status-slo") == " SLO p95 e2e 2,000 ms "
        await pilot.press("l", "escape")  # cancelled: nothing sent
        assert not isinstance(app.screen, SloScreen)

        await pilot.press("p")
        await wait_until(pilot, lambda: app.state.ramp_state == "running", what="the ramp resumed")
        await redraw(app, pilot)
        assert "PAUSED" not in text(app, "#status-flags")
        await pilot.press("x")  # the ramp stops; the session ends
        await wait_until(pilot, lambda: app.session_task.done(), what="the session to end")
        await redraw(app, pilot)
        assert app.state.sweep_end == "stopped" and "sweep stopped" in text(app, "#status-flags")
        await pilot.press("q")  # the session has ended: quit just leaves
    assert exit_code(app) == 0
    expected = [
        ("start", None), ("pause", None), ("step_up", 2.0), ("step_down", 1.0), ("set_slo", 2000.0),
        ("resume", None), ("stop", None),
    ]  # fmt: skip
    assert seen.commands() == expected
    events = recorded_events(tmp_path / "recording.jsonl")
    assert commands_in(events) == expected
    assert ramp_states_in(events) == ["waiting", "running", "paused", "running", "stopping", "finished"]


async def test_a_live_console_says_to_press_s_before_the_ramp_starts(tmp_path, sim_server):
    session = attached(tmp_path, sim_server)
    app = console(session, tmp_path)
    async with running(app, (120, 40)) as pilot:
        await wait_until(pilot, lambda: attached_and_waiting(app), what="both endpoints")
        await redraw(app, pilot)
        assert session.fold.ramp_state == "waiting"  # what the session itself says
        assert app.state.ramp_state == "waiting"
        assert "press s to start the ramp" in text(app, "#status-flags")


async def test_quit_stops_a_live_session_and_awaits_it(tmp_path, sim_server):
    session = attached(tmp_path, sim_server)
    app = console(session, tmp_path)
    async with running(app, (100, 30)) as pilot:
        await wait_until(pilot, lambda: attached_and_waiting(app), what="both endpoints")
        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), what="the session to stop")
        await asyncio.wait_for(app.session_task, 5)
        assert any("stopping the session" in message for _, message, _ in app.told)
    assert app.session_result is not None and app.session_result.summary["sweep"]["reason"] == "stopped"
    assert exit_code(app) == 0
    assert commands_in(recorded_events(tmp_path / "recording.jsonl")) == [("stop", None)]


async def test_finish_session_stops_a_session_left_running(tmp_path, sim_server):
    session = attached(tmp_path, sim_server)
    app = console(session, tmp_path, own_thread=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: attached_and_waiting(app), what="both endpoints")
        app.exit()  # the app ends without the quit key (a crash, a closed terminal)
    assert not app.session_task.done()
    await finish_session(app, grace_s=10)
    assert app.session_task.done() and app.session_error is None
    assert app.session_result.summary["sweep"]["reason"] == "stopped"
    assert commands_in(recorded_events(tmp_path / "recording.jsonl")) == [("stop", None)]


async def test_the_restart_key_restarts_a_failed_launched_engine(tmp_path, free_port):
    variant = VariantConfig(
        name="bf16", model="m", served_name="smol-bf16", precision="bf16", port=free_port, command=SIM,
        extra_args=("--ttft-ms", "20", "--itl-ms", "5"), stop_grace_s=3.0,
    )  # fmt: skip
    config = SweepConfig(
        endpoints=(), plan=LoadPlan(concurrencies=(1,), requests_per_step=1), out_dir=tmp_path,
        options=RequestOptions(max_tokens=4, ignore_eos=True), timeouts=Timeouts(), scrape_interval_s=0.2,
    )  # fmt: skip
    session = LiveSession(config, PROMPTS, [variant], autostart=False)
    seen = Seen(session.stream)
    app = console(session, tmp_path)
    assert app.info.can_restart

    def states() -> list[str]:
        return [e.state for e in seen.of(InstanceState)]

    async with running(app, (120, 40)) as pilot:
        # Ready, and its endpoint resolved (the ramp waits for the operator's s).
        await wait_until(pilot, lambda: app.state.variants["bf16"].pids, what="the engine serving")
        pid = session.launcher.engines["bf16"].pid
        assert app.state.variants["bf16"].pids[0] == pid
        os.kill(pid, signal.SIGKILL)
        await wait_until(
            pilot, lambda: app.state.variants["bf16"].state == "failed", what="the engine failed"
        )
        await pilot.press("R")
        await wait_until(pilot, lambda: states().count("ready") == 2, what="the engine ready again")
        assert ("restart", None) in seen.commands()
        assert any("restarting failed engines" in message for _, message, _ in app.told)
        await wait_until(pilot, lambda: app.state.variants["bf16"].state == "ready", what="shown ready")
        new_pid = session.launcher.engines["bf16"].pid
        assert new_pid != pid and psutil.pid_exists(new_pid)
        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), what="the session to stop")
    assert not psutil.pid_exists(new_pid) or psutil.Process(new_pid).status() == psutil.STATUS_ZOMBIE
    assert commands_in(recorded_events(tmp_path / "recording.jsonl")) == [("restart", None), ("stop", None)]
