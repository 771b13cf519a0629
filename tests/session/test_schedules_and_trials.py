"""How steps are scheduled (simultaneous or alternate), trials with the order alternated, and the
SLO derived from single-user latency, against simulated vLLM servers in real child processes."""

import asyncio
from dataclasses import replace

from session_helpers import Collector, attach_config

from quanttui.core.events import OperatorCommand, OperatorNote, RequestResult, StepStarted
from quanttui.core.loadplan import LoadPlan, Schedule, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.io.report_files import ReportOptions, build_report
from quanttui.session import LiveSession, replay_headless
from quanttui.session.derived_slo import round_up_2sig

PROMPTS = list(DEFAULT_PROMPTS)


async def test_alternate_schedule_runs_one_variant_at_a_time_and_trials_flip_the_order(tmp_path, sim_server):
    servers = {
        "bf16": sim_server("bf16", ttft_ms=10, itl_ms=2),
        "awq": sim_server("awq", ttft_ms=10, itl_ms=2),
    }
    plan = LoadPlan(concurrencies=(1, 2), requests_per_step=4, schedule=Schedule.ALTERNATE, trials=2,
                    slo=Slo(60_000.0))  # fmt: skip
    session = LiveSession(attach_config(tmp_path, servers, plan), PROMPTS, autostart=True)
    seen = Collector(session.stream)
    result = await asyncio.wait_for(session.run(), 60)
    await seen.done()
    steps = seen.of(StepStarted)
    order = [(s.trial, s.concurrency, s.variants) for s in steps]
    assert order == [
        (0, 1, ("bf16",)), (0, 1, ("awq",)), (0, 2, ("awq",)), (0, 2, ("bf16",)),  # flipped every step
        (1, 1, ("awq",)), (1, 1, ("bf16",)), (1, 2, ("bf16",)), (1, 2, ("awq",)),  # and every trial
    ]  # fmt: skip
    # one variant at a time: no request of one overlaps a request of the other
    spans = {v: [(r.start, r.t) for r in seen.of(RequestResult) if r.variant == v] for v in servers}
    assert all(
        b_end <= a_start or a_end <= b_start
        for a_start, a_end in spans["awq"]
        for b_start, b_end in spans["bf16"]
    )
    verdict = result.summary["verdict"]
    assert verdict["schedule"] == "alternate" and verdict["trials"] == 2
    assert {r["trial"] for r in result.summary["steps"]} == {0, 1}
    paths = build_report(result.recording, tmp_path / "report", ReportOptions())
    capacity = paths[2].read_text()
    assert "## Trials (2, the variants' order alternated)" in capacity
    assert "Schedule: alternate: one variant at a time" in capacity
    assert (await replay_headless(result.recording)).summary == result.summary


async def test_without_an_slo_one_is_derived_from_single_user_latency_and_recorded(tmp_path, sim_server):
    servers = {
        "bf16": sim_server("bf16", ttft_ms=40, itl_ms=5),
        "awq": sim_server("awq", ttft_ms=20, itl_ms=3),
    }
    plan = LoadPlan(concurrencies=(1,), requests_per_step=4)
    config = replace(attach_config(tmp_path, servers, plan), derive_slo_factor=2.0)
    lines: list[str] = []
    session = LiveSession(config, PROMPTS, autostart=True, progress=lines.append)
    seen = Collector(session.stream)
    result = await asyncio.wait_for(session.run(), 60)
    await seen.done()
    (note,) = [n for n in seen.of(OperatorNote) if n.text.startswith("SLO derived")]
    (command,) = seen.of(OperatorCommand)
    assert command.command == "set_slo" and note.variant == "bf16"  # the reference: BF16
    assert f"p95 e2e <= {command.value:,.0f} ms = 2 x bf16's single-user median" in note.text
    assert any(line.startswith("SLO derived") for line in lines)  # printed
    # the calibration requests are no step's: the first measured step is the ramp's
    assert all(r.step == 0 for r in seen.of(RequestResult))
    assert {s["slo_p95_ms"] for s in result.summary["steps"]} == {command.value}
    assert (await replay_headless(result.recording)).summary == result.summary


def test_the_derived_slo_is_rounded_up_to_two_significant_digits():
    assert [round_up_2sig(v) for v in (964.2, 1034.0, 1000.0, 48.1, 7.01)] == [970, 1100, 1000, 49, 7.1]
