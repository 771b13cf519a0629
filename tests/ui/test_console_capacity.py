"""The console says capacity in the report's words: each step's SLO decision with its interval,
"holds N" / "breaches at N" / "undecided at N", the capacity sentence, and the step in progress.

Replays of `decided_recording` (steps long enough to decide) and the UI recording through a real
`ReplaySession`, cut mid-step where a test needs a step in progress; one live ramp on a simulated
engine. Expected words are derived from a fold of the same events (core/verdict.py), not copied
from the console.
"""

from pathlib import Path

from console_helpers import (
    console,
    decided_recording,
    live_config,
    recording_copy,
    redraw,
    replay_app,
    running,
    settle,
    wait_until,
)
from rich.cells import cell_len

from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.core.recording import plan_from_header
from quanttui.core.verdict import fold_verdict
from quanttui.io.recording_file import read_recording
from quanttui.session import LiveSession
from quanttui.ui.app import QuanttuiApp
from quanttui.ui.format import ms
from quanttui.ui.run import finish_session
from quanttui.ui.widgets.text import LiteralLine
from quanttui.ui.widgets.variant import VariantColumn


def line(app: QuanttuiApp, name: str, selector: str) -> LiteralLine:
    column = next(c for c in app.screen.query(VariantColumn) if c.variant == name)
    return column.query_one(selector, LiteralLine)


def shown(app: QuanttuiApp, selector: str) -> str:
    return app.screen.query_one(selector, LiteralLine).value


def folded(path: Path) -> SessionFold:
    """A fold of the recording of its own, as `quanttui report` makes it."""
    recording, events = read_recording(path)
    fold = SessionFold(plan_from_header(recording.header, path))
    for event in events:
        fold.apply(event)
    return fold


async def test_a_decided_capacity_shows_holds_n_and_the_capacity_sentence(tmp_path):
    path = decided_recording(tmp_path)
    verdict = fold_verdict(folded(path))
    (sentence,) = verdict.sentences
    assert [c.holds_text() for c in verdict.capacities] == [
        "holds 2, breaches at 4",
        "holds 4, breaches at 8",
    ]
    app = replay_app(tmp_path, path)
    async with running(app, (200, 50)) as pilot:  # room for the longest wording
        await settle(app, pilot)
        assert shown(app, "#status-capacity") == " ◆ bf16 holds 2 · awq holds 4 "
        assert shown(app, "#status-verdict") == sentence.removeprefix("On this CPU (no GPU), ")
        assert shown(app, "#status-verdict").startswith(
            "awq sustains 2.0x more concurrent users than bf16 (4 vs 2)"
        )
        assert app.screen.query_one("#status-verdict").has_class("-decided")
        # The c=2 step ran while other processes kept the host busy: each capacity says so.
        assert line(app, "bf16", ".capacity-line").value == (
            "holds 2 · breaches at 4: p95 e2e 1,380 ms [1,360–1,380] n=100 · busy host (1 step)"
        )
        assert line(app, "awq", ".capacity-line").value == (
            "holds 4 · breaches at 8: p95 e2e 1,380 ms [1,360–1,380] n=100 · busy host (1 step)"
        )
        assert line(app, "awq", ".capacity-line").has_class("-decided")
        assert (
            line(app, "awq", ".decision-line").value == "c=8: p95 e2e 1,380 ms [1,360–1,380] n=100 · breaches"
        )
        assert line(app, "awq", ".decision-line").has_class("-breaches")
        assert shown(app, "#delta").splitlines()[8:] == [
            "capacity", " bf16 holds 2", "  breaches at 4", " awq holds 4", "  breaches at 8"
        ]  # fmt: skip
        plot = app.screen.query_one("#plot-p95")
        assert plot.chart is not None and len(plot.chart.vlines) == 2  # where each breach was decided


async def test_narrow_panels_shorten_the_capacity_words_but_keep_the_decision(tmp_path):
    app = replay_app(tmp_path, decided_recording(tmp_path))
    async with running(app, (80, 24)) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one("#status-row-2").display
        assert shown(app, "#status-capacity-2") == " ◆ bf16 holds 2 · awq holds 4 "
        verdict = app.screen.query_one("#status-verdict", LiteralLine)
        assert verdict.display and verdict.value.startswith("awq sustains 2.0x more")
        for name, words in (("bf16", ("holds 2", "breaches at 4")), ("awq", ("holds 4", "breaches at 8"))):
            capacity = line(app, name, ".capacity-line")
            assert all(w in capacity.value for w in words), capacity.value
            assert cell_len(capacity.value) <= capacity.content_size.width
            decision = line(app, name, ".decision-line")
            assert "breaches" in decision.value and cell_len(decision.value) <= decision.content_size.width


async def test_the_step_in_progress_shows_its_interval_so_far_and_undecided(tmp_path):
    path = decided_recording(tmp_path, until=5.5, busy_step=None)  # c=4 (step 2) runs from t=5
    fold = folded(path)
    bf16 = fold.step_stats("bf16", 2)  # what the fold says of the open step so far
    assert bf16.slo_decision == "undecided" and 0 < bf16.requests < 100 and bf16.slo_pct_ms_hi is None
    app = replay_app(tmp_path, path)
    async with running(app, (160, 50)) as pilot:
        await settle(app, pilot)
        running_line = line(app, "bf16", ".decision-line")
        assert running_line.value == (
            f"c=4 now: p95 e2e {ms(bf16.slo_pct_ms)} ms [{ms(bf16.slo_pct_ms_lo)}–—] n={bf16.requests} · undecided"
        )
        assert running_line.has_class("-undecided")
        # The finished steps all met: the limit is not reached yet, and the sentence says "so far"
        # without what to run (the ramp is still going).
        assert line(app, "bf16", ".capacity-line").value == "holds ≥ 2 (limit not reached)"
        assert shown(app, "#status-capacity") == " ◆ bf16 holds ≥ 2 · awq holds ≥ 2 "
        verdict = shown(app, "#status-verdict")
        assert (
            verdict.startswith("so far: inconclusive at p95 e2e <= 800 ms: ") and "To decide" not in verdict
        )
        assert app.screen.query_one("#status-verdict").has_class("-inconclusive")


async def test_a_step_on_a_busy_host_is_marked(tmp_path):
    app = replay_app(tmp_path, decided_recording(tmp_path, until=3.9))  # c=2 runs on a busy host
    async with running(app, (160, 50)) as pilot:
        await settle(app, pilot)
        for name in ("bf16", "awq"):
            value = line(app, name, ".decision-line").value
            assert value.startswith("c=2 now: p95 e2e ") and value.endswith(" · undecided · busy host")


async def test_an_undecided_finished_step_shows_as_undecided_with_its_interval(tmp_path):
    path = recording_copy(tmp_path)  # the UI recording: 12 requests a step decide no "meets"
    awq = fold_verdict(folded(path)).capacities[1]
    assert awq.variant == "awq" and awq.why.startswith("undecided at 1 (227 ms [226, —]")
    app = replay_app(tmp_path, path)
    async with running(app, (160, 50)) as pilot:
        await settle(app, pilot)
        capacity = line(app, "awq", ".capacity-line")
        assert capacity.value == "holds none · undecided at 1: p95 e2e 227 ms [226–—] n=12"
        assert capacity.has_class("-undecided")
        assert line(app, "awq", ".decision-line").value == "c=8: p95 e2e 367 ms [361–—] n=12 · undecided"


async def test_a_live_step_shows_its_running_line_while_it_runs(tmp_path, sim_server):
    servers = {"bf16": sim_server(model="bf16", ttft_ms=40, itl_ms=10, max_num_seqs=2)}
    plan = LoadPlan(concurrencies=(1,), requests_per_step=40, slo=Slo(2000.0))
    session = LiveSession(live_config(tmp_path, servers, plan, max_tokens=8), list(DEFAULT_PROMPTS))
    app = console(session, tmp_path, own_thread=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.variants["bf16"].state == "attached", what="the endpoint")
        await pilot.press("s")

        def running_line() -> str:
            return line(app, "bf16", ".decision-line").value

        # Drawn by the frames while the step runs: its requests so far, its interval, undecided.
        await wait_until(
            pilot,
            lambda: running_line().startswith("c=1 now: p95 e2e ") and " n=" in running_line(),
            what="the running line",
        )
        assert " · undecided" in running_line() and app.state.sweep_end is None  # "· busy host" may follow
        await wait_until(pilot, lambda: app.state.sweep_end is not None, 60, what="the end of the ramp")
        await redraw(app, pilot)
        # After the step: its final line (no "now"), with its decision.
        assert running_line().startswith("c=1: p95 e2e ") and " · undecided" in running_line()
        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), 30, what="the session to end")
    await finish_session(app)
