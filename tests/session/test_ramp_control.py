"""Operator commands on a running ramp, against simulated vLLM servers in real child processes:
pause/resume, stop, step up/down, a new SLO; every command is recorded and the replay agrees."""

import asyncio

from session_helpers import Collector, attach_config, recorded

from quanttui.core.clock import SessionClock
from quanttui.core.events import (
    OperatorCommand,
    RampStatus,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.session import LiveSession, replay_headless
from quanttui.session.commands import Pause, Resume, SetSlo, StepDown, StepUp, Stop
from quanttui.session.ramp import RampControl

PROMPTS = list(DEFAULT_PROMPTS)


# -- the control alone ----------------------------------------------------------------------------
def control(plan: LoadPlan, started: bool = True) -> tuple[RampControl, list]:
    published: list = []
    return RampControl(plan, published.append, SessionClock(), started=started), published


def test_concurrency_beyond_the_plan_doubles_and_halves_down_to_one():
    ramp, _ = control(LoadPlan(concurrencies=(4, 8, 16), requests_per_step=1))
    assert [ramp.concurrency_at(i) for i in range(-4, 6)] == [1, 1, 1, 2, 4, 8, 16, 32, 64, 128]


def test_commands_that_change_nothing_are_ignored_and_not_recorded():
    ramp, published = control(LoadPlan(concurrencies=(1, 2), requests_per_step=1), started=False)
    ramp.step_up()  # no step yet
    ramp.resume()  # not paused
    ramp.set_slo(0)
    ramp.set_slo(float("nan"))
    ramp.set_slo("fast")  # type: ignore[arg-type]
    assert published == []
    ramp.announce()  # the session does this once it runs
    assert [e.state for e in published] == ["waiting"]
    published.clear()
    ramp.start()
    ramp.start()
    ramp.enter_step(0)
    ramp.step_down()  # already at concurrency 1
    ramp.pause()
    ramp.pause()
    ramp.set_slo(250)
    commands = [(e.command, e.value) for e in published if isinstance(e, OperatorCommand)]
    assert commands == [("start", None), ("pause", None), ("set_slo", 250.0)]
    assert [e.state for e in published if isinstance(e, RampStatus)] == ["running", "paused"]
    ramp.finish()
    ramp.resume()
    ramp.stop()
    assert [type(e).__name__ for e in published[5:]] == ["RampStatus"]  # finished; nothing else
    assert published[-1].state == "finished"


def test_steps_asked_for_before_the_step_ends_accumulate():
    ramp, published = control(LoadPlan(concurrencies=(1, 2, 4), requests_per_step=1))
    ramp.enter_step(1)
    ramp.step_up()
    ramp.step_up()
    ramp.step_down()
    assert [e.value for e in published if isinstance(e, OperatorCommand)] == [4.0, 8.0, 4.0]
    assert ramp.interrupting and ramp.take_target() == 2 and not ramp.interrupting


# -- a live ramp ----------------------------------------------------------------------------------
async def test_pause_lets_in_flight_requests_finish_starts_none_and_resume_goes_on(tmp_path, sim_server):
    servers = {"a": sim_server("a", ttft_ms=20, itl_ms=10), "b": sim_server("b", ttft_ms=20, itl_ms=10)}
    plan = LoadPlan(concurrencies=(2,), requests_per_step=24)
    session = LiveSession(attach_config(tmp_path, servers, plan), PROMPTS, autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(RequestResult)) >= 6, what="first results")
    session.handle(Pause())
    assert session.fold.ramp_state == "paused"
    await asyncio.sleep(0.4)  # in-flight requests (about 0.1 s each) end
    settled = len(seen.of(RequestResult))
    await asyncio.sleep(0.6)  # what is tested: nothing starts while paused
    assert len(seen.of(RequestResult)) == settled
    session.handle(Resume())
    result = await asyncio.wait_for(run, 30)
    await seen.done()

    pause, resume = seen.of(OperatorCommand)
    assert (pause.command, resume.command) == ("pause", "resume")
    results = seen.of(RequestResult)
    # Requests handed over before the pause finish and are counted; nothing else runs until the
    # resume. (A request's `start` is when its bytes reached the socket in the load worker, so one
    # handed over just before the pause can start a moment after it.)
    in_flight = [r for r in results if r.t > pause.t and r.start < resume.t]
    assert in_flight and len(in_flight) <= 4 and all(r.t < resume.t for r in in_flight)
    assert sum(r.start > resume.t for r in results) > 0
    assert result.summary["sweep"]["reason"] == "completed"
    assert [v["requests"] for v in result.summary["variants"]] == [24, 24]
    assert (await replay_headless(result.recording)).summary == result.summary


async def test_paused_time_does_not_count_in_a_timed_step(tmp_path, sim_server):
    servers = {"a": sim_server("a", ttft_ms=10, itl_ms=5)}
    plan = LoadPlan(concurrencies=(1,), step_seconds=0.8)
    session = LiveSession(attach_config(tmp_path, servers, plan), PROMPTS, autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(RequestResult)) >= 2, what="first results")
    session.handle(Pause())
    await asyncio.sleep(1.0)  # the pause whose length is left out of the timed step
    session.handle(Resume())
    await asyncio.wait_for(run, 30)
    await seen.done()
    (started,), (finished,) = seen.of(StepStarted), seen.of(StepFinished)
    pause, resume = seen.of(OperatorCommand)
    assert finished.t - started.t >= 0.8 + (resume.t - pause.t) - 0.05
    assert finished.t - started.t < 0.8 + (resume.t - pause.t) + 0.5
    assert any(r.start > resume.t for r in seen.of(RequestResult))


async def test_stop_ends_the_sweep_after_in_flight_requests(tmp_path, sim_server):
    servers = {"a": sim_server("a", ttft_ms=20, itl_ms=10)}
    plan = LoadPlan(concurrencies=(2, 4, 8), requests_per_step=50)
    session = LiveSession(attach_config(tmp_path, servers, plan), PROMPTS, autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(RequestResult)) >= 5, what="first results")
    session.handle(Stop())
    result = await asyncio.wait_for(run, 10)
    await seen.done()
    (stop,) = seen.of(OperatorCommand)
    assert stop.command == "stop"
    # Nothing is sent after the stop: only the two requests in flight (c=2) end after it. (Their
    # `start` can follow the stop by a moment: it is when their bytes reached the socket, in the
    # load worker process, after the runner had handed them over.)
    assert len([r for r in seen.of(RequestResult) if r.t > stop.t]) <= 2
    assert [(f.step, f.reason) for f in seen.of(StepFinished)] == [(0, "stopped")]
    assert seen.of(SweepFinished)[-1].reason == "stopped"
    assert result.summary["sweep"] == {**result.summary["sweep"], "reason": "stopped", "steps": 1}
    assert not result.interrupted
    lines = recorded(result.recording)
    assert {"type": "OperatorCommand", "t": stop.t, "command": "stop", "value": None} in lines
    assert (await replay_headless(result.recording)).summary == result.summary


def max_overlap(results: list[RequestResult]) -> int:
    edges = sorted([(r.start, 1) for r in results] + [(r.t, -1) for r in results])
    running = peak = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    return peak


async def test_step_up_and_down_start_new_steps_at_the_plans_neighbours_then_beyond(tmp_path, sim_server):
    servers = {"a": sim_server("a", ttft_ms=20, itl_ms=10), "b": sim_server("b", ttft_ms=20, itl_ms=10)}
    plan = LoadPlan(concurrencies=(1, 2, 4), requests_per_step=400, warmup_requests=1)
    session = LiveSession(attach_config(tmp_path, servers, plan), PROMPTS, autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())

    async def results_in(step: int, count: int) -> None:
        await seen.until(
            lambda: sum(r.step == step for r in seen.of(RequestResult)) >= count, what=f"step {step}"
        )

    await results_in(0, 3)
    for step, command in enumerate([StepUp(), StepUp(), StepUp(), StepDown(), StepDown()]):
        session.handle(command)
        await results_in(step + 1, 24)
    session.handle(Stop())
    result = await asyncio.wait_for(run, 20)
    await seen.done()

    starts = seen.of(StepStarted)
    assert [(s.step, s.concurrency, s.trigger) for s in starts] == [
        (0, 1, "plan"), (1, 2, "operator"), (2, 4, "operator"), (3, 8, "operator"), (4, 4, "operator"),
        (5, 2, "operator"),
    ]  # fmt: skip
    assert [f.reason for f in seen.of(StepFinished)] == ["operator"] * 5 + ["stopped"]
    assert [(c.command, c.value) for c in seen.of(OperatorCommand)] == [
        ("step_up", 2.0), ("step_up", 4.0), ("step_up", 8.0), ("step_down", 4.0), ("step_down", 2.0),
        ("stop", None),
    ]  # fmt: skip
    # Each step ran at its own concurrency (8 beyond the plan's 4: the client pools grew with it).
    for start in starts:
        mine = [r for r in seen.of(RequestResult) if r.step == start.step and r.variant == "a"]
        assert max_overlap(mine) == start.concurrency, start
    at8 = [r for r in seen.of(RequestResult) if r.step == 3 and r.ok and not r.warmup]
    # A coarse bound only (TTFT 20 ms at the server): a busy machine stretches the median TTFT at c=8
    # to 0.25 s (measured with two CPU spinners on 2 cores), so it cannot tell a request that queued
    # for a connection from one that waited for a CPU; max_overlap above is the check that holds.
    assert sorted(r.ttft for r in at8)[len(at8) // 2] < 0.75
    assert not seen.of(VariantRetired)
    rows = {(r["variant"], r["step"]): r for r in result.summary["steps"]}
    assert [rows[("a", s)]["conc"] for s in range(6)] == [1, 2, 4, 8, 4, 2]
    assert (await replay_headless(result.recording)).summary == result.summary


async def test_a_new_slo_applies_from_the_next_evaluation_and_the_replay_agrees(tmp_path, sim_server):
    servers = {
        "fast": sim_server("fast", ttft_ms=5, itl_ms=2),
        "slow": sim_server("slow", ttft_ms=400, itl_ms=25),  # e2e about 0.58 s
    }
    # The new SLO sits far from both: a busy machine adds 0.1 s and more to fast's 20 ms p95.
    plan = LoadPlan(concurrencies=(1, 2, 4), requests_per_step=6, slo=Slo(10_000.0))
    session = LiveSession(attach_config(tmp_path, servers, plan), PROMPTS, autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(RequestResult)) >= 2, what="first results")
    session.handle(SetSlo(300))
    result = await asyncio.wait_for(run, 30)
    await seen.done()

    (retired,) = seen.of(VariantRetired)
    assert (retired.variant, retired.step, retired.rule) == ("slow", 0, "slo")
    assert "SLO 300 ms" in retired.detail
    assert [s.variants for s in seen.of(StepStarted)] == [("fast", "slow"), ("fast",), ("fast",)]
    assert seen.of(SweepFinished)[-1].reason == "completed"
    assert {r["slo_p95_ms"] for r in result.summary["steps"]} == {300.0}  # the summary uses the new SLO
    assert [c.command for c in seen.of(OperatorCommand)] == ["set_slo"]
    assert (await replay_headless(result.recording)).summary == result.summary


async def test_warm_up_finishes_before_the_measured_requests_start_together(tmp_path, sim_server):
    """Like vllm bench: a warm-up mixed into the first wave would leave a lone last wave. Then the
    fill wave (one request per user, sent before all users are in flight) is not measured either."""
    servers = {"a": sim_server("a", ttft_ms=20, itl_ms=5)}
    plan = LoadPlan(concurrencies=(4,), requests_per_step=16, warmup_requests=1)
    session = LiveSession(attach_config(tmp_path, servers, plan), PROMPTS, autostart=True)
    seen = Collector(session.stream)
    await asyncio.wait_for(session.run(), 30)
    await seen.done()
    results = seen.of(RequestResult)
    (started,) = seen.of(StepStarted)
    assert started.warmup_requests == 1 + 4  # the configured warm-up and the fill wave
    warm = next(r for r in results if r.index == 0)
    fill = sorted((r for r in results if r.index in (1, 2, 3, 4)), key=lambda r: r.start)
    assert warm.warmup and all(r.warmup for r in fill) and all(r.start >= warm.t for r in fill)
    assert fill[3].start - fill[0].start < 0.05  # the users start at once, 4 wide
    measured = [r for r in results if not r.warmup]
    assert len(measured) == 16 and min(r.index for r in measured) == 5


def test_a_step_up_typed_right_after_start_counts_from_the_first_level():
    """`s +` typed ahead: the + arrives before the runner entered its first step; it is not lost."""
    ramp, published = control(LoadPlan(concurrencies=(1, 2, 4), requests_per_step=1), started=False)
    ramp.start()
    ramp.step_up()
    assert [(e.command, e.value) for e in published if hasattr(e, "command")] == [
        ("start", None), ("step_up", 2.0)
    ]  # fmt: skip
    assert ramp.take_target() == 1
