"""Console sessions: a live one waits for start_ramp(), is steered and always stops its engines; a
replay one pauses, steps, seeks and keeps its speed. Real child processes throughout."""

import asyncio
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest
from session_helpers import Collector, attach_config, recorded

from quanttui.console_session import LiveConsoleSession, ReplayConsoleSession
from quanttui.core.events import (
    EndpointInfo,
    InstanceState,
    OperatorCommand,
    OperatorNote,
    ProcessSample,
    ReplayReset,
    RequestResult,
    StepStarted,
    SweepFinished,
)
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.core.recording import RecordingError, RecordingHeader
from quanttui.io.config import VariantConfig
from quanttui.io.openai_client import EndpointError, RequestOptions, Timeouts
from quanttui.io.recording_file import Recorder
from quanttui.session import EndpointSpec, SweepConfig, replay_headless

PROMPTS = list(DEFAULT_PROMPTS)
SIM = (sys.executable, "-m", "quanttui.sim.server")
SHIPPED = Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl"


def gone(pids) -> bool:
    return all(not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE for p in pids)


# -- live -----------------------------------------------------------------------------------------
async def test_attached_session_waits_for_start_ramp(tmp_path, sim_server):
    servers = {
        "bf16": sim_server("m-bf16", ttft_ms=5, itl_ms=2),
        "awq": sim_server("m-awq", ttft_ms=5, itl_ms=2),
    }
    plan = LoadPlan(concurrencies=(1, 2), requests_per_step=3)
    session = LiveConsoleSession(attach_config(tmp_path, servers, plan), PROMPTS)
    assert (session.kind, session.variants, session.plan) == ("live", ["bf16", "awq"], plan)
    assert not session.ramp_started and not session.paused
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(EndpointInfo)) == 2, what="endpoints")
    await asyncio.sleep(0.5)
    assert not seen.of(StepStarted) and not seen.of(RequestResult)
    assert not (tmp_path / "sweep.csv").exists()
    session.start_ramp()
    assert session.ramp_started
    result = await asyncio.wait_for(run, 20)
    await seen.done()
    (start,) = seen.of(OperatorCommand)
    assert start.command == "start" and seen.of(StepStarted)[0].t >= start.t
    assert result.summary["sweep"]["reason"] == "completed"
    assert [v["model"] for v in result.summary["variants"]] == ["m-bf16", "m-awq"]
    assert [e["model"] for e in session.header.config["endpoints"]] == ["m-bf16", "m-awq"]  # resolved
    assert session.aggregator.sweep_end.reason == "completed"
    assert (await replay_headless(result.recording)).summary == result.summary


async def test_an_unreachable_endpoint_fails_run_writes_nothing_and_ends_the_stream(tmp_path, free_port):
    config = SweepConfig(
        endpoints=(EndpointSpec("x", f"http://127.0.0.1:{free_port}"),),
        plan=LoadPlan((1,), 1),
        options=RequestOptions(max_tokens=4),
        timeouts=Timeouts(connect_s=1.0),
        out_dir=tmp_path / "out",
    )
    session = LiveConsoleSession(config, PROMPTS, autostart=True)
    seen = Collector(session.stream)
    with pytest.raises(EndpointError):
        await session.run()
    await asyncio.wait_for(seen.done(), 2)  # a console's subscription ends too
    assert not (tmp_path / "out").exists()


def sim_variant(name: str, port: int, *flags: str) -> VariantConfig:
    return VariantConfig(
        name=name, model="m", served_name=f"smol-{name}", precision=name, port=port, command=SIM,
        extra_args=("--ttft-ms", "20", "--itl-ms", "10", *flags), stop_grace_s=3.0,
    )  # fmt: skip


def launch_config(tmp_path: Path, plan: LoadPlan) -> SweepConfig:
    return SweepConfig(
        endpoints=(),
        plan=plan,
        options=RequestOptions(max_tokens=8, ignore_eos=True),
        timeouts=Timeouts(),
        out_dir=tmp_path,
        scrape_interval_s=0.2,
        gpu_interval_s=0.2,
    )


async def test_launched_engines_wait_for_start_then_stop_stops_the_ramp_and_the_engines(tmp_path, free_port):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        other_port = sock.getsockname()[1]
    variants = [sim_variant("bf16", free_port), sim_variant("awq", other_port)]
    plan = LoadPlan(concurrencies=(1, 2, 4), requests_per_step=500, slo=Slo(5000.0))
    lines: list[str] = []
    session = LiveConsoleSession(launch_config(tmp_path, plan), PROMPTS, variants, progress=lines.append)
    assert session.variants == ["bf16", "awq"] and session.header.config["command"] == "run"
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(EndpointInfo)) == 2, timeout=30, what="engines ready")
    await seen.until(lambda: {s.variant for s in seen.of(ProcessSample)} == {"bf16", "awq"}, what="samples")
    await asyncio.sleep(0.3)
    assert not seen.of(StepStarted)  # engines up, ramp not started
    session.start_ramp()
    await seen.until(lambda: len(seen.of(RequestResult)) >= 6, what="results")
    session.stop()
    result = await asyncio.wait_for(run, 30)
    await seen.done()

    assert result.summary["sweep"]["reason"] == "stopped" and not result.interrupted
    states = [(e.variant, e.state) for e in seen.of(InstanceState)]
    assert ("bf16", "stopped") in states and ("awq", "stopped") in states
    pids = [p for info in seen.of(EndpointInfo) for p in info.pids]
    assert pids and gone(pids)
    assert "stopping engines" in lines
    samples = seen.of(ProcessSample)
    assert all(s.rss_mib > 5 and s.pids >= 1 for s in samples)
    assert any(s.cpu_pct is not None for s in samples)
    types = [e["type"] for e in recorded(result.recording)]
    assert "ProcessSample" in types and types.count("OperatorCommand") == 2  # start, stop
    assert (await replay_headless(result.recording)).summary == result.summary


async def test_stop_during_engine_start_up_stops_the_engine_at_once(tmp_path, free_port):
    hang = VariantConfig(
        name="slow", model="m", served_name="slow", port=free_port, stop_grace_s=2.0,
        command=(sys.executable, "-c", "import time; print('loading', flush=True); time.sleep(60)"),
    )  # fmt: skip
    session = LiveConsoleSession(launch_config(tmp_path, LoadPlan((1,), 1)), PROMPTS, [hang], autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: any(e.state == "launching" for e in seen.of(InstanceState)), what="launch")
    await asyncio.sleep(0.5)
    pid = session.launcher.engines["slow"].pid
    assert pid and psutil.pid_exists(pid)
    started = time.monotonic()
    session.stop()
    result = await asyncio.wait_for(run, 10)
    assert time.monotonic() - started < 5
    await seen.done()
    assert result.summary["sweep"]["reason"] == "stopped"
    assert seen.of(InstanceState)[-1].state in ("stopped", "failed")
    assert gone([pid])


async def test_cancelling_run_is_an_interruption_and_still_stops_the_engines(tmp_path, free_port):
    variants = [sim_variant("bf16", free_port)]
    plan = LoadPlan(concurrencies=(2,), requests_per_step=500)
    session = LiveConsoleSession(launch_config(tmp_path, plan), PROMPTS, variants, autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(RequestResult)) >= 4, timeout=30, what="results")
    run.cancel()
    result = await asyncio.wait_for(run, 20)
    await seen.done()
    assert result.interrupted and seen.of(SweepFinished)[-1].reason == "interrupted"
    assert gone([p for info in seen.of(EndpointInfo) for p in info.pids])


# -- replay ---------------------------------------------------------------------------------------
def notes_recording(path: Path, count: int = 100, every: float = 0.1, plan: LoadPlan | None = None) -> list:
    """A recording of `count` notes, one every `every` seconds from t=0."""
    config = {"command": "run", "variants": [{"name": "bf16"}, {"name": "awq"}]}
    if plan:
        config["plan"] = plan.to_dict()
    recorder = Recorder(
        path, RecordingHeader(started_utc="2026-11-23T00:00:00+00:00", quanttui="0", config=config)
    )
    recorder.open()
    events = [OperatorNote(t=round(i * every, 6), text=str(i)) for i in range(count)]
    recorder.write_batch(events)
    recorder.close()
    return events


async def test_replay_at_speed_50_takes_the_duration_over_50_and_matches_the_headless_summary():
    session = ReplayConsoleSession(SHIPPED, speed=50)
    assert session.kind == "replay" and session.variants == ["bf16", "awq"]
    assert session.plan is not None and session.plan.concurrencies == (1, 2, 4, 8)
    assert 129 < session.duration < 131 and session.speed == 50
    started = time.monotonic()
    result = await session.run()
    elapsed = time.monotonic() - started
    assert session.duration / 50 * 0.95 < elapsed < session.duration / 50 + 1.0
    assert session.position == session.duration and session.at_end
    assert result.summary == (await replay_headless(SHIPPED)).summary


async def test_pause_holds_step_publishes_exactly_one_and_resume_goes_on(tmp_path):
    path = tmp_path / "notes.jsonl"
    events = notes_recording(path, count=30, every=0.05)
    session = ReplayConsoleSession(path, speed=1.0)
    assert session.duration == pytest.approx(1.45) and session.plan is None
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.events) >= 5, what="first events")
    session.pause()
    await asyncio.sleep(0.01)
    held = len(seen.events)
    await asyncio.sleep(0.3)
    assert len(seen.events) == held and session.paused
    assert session.position == seen.events[-1].t
    session.step()
    await seen.until(lambda: len(seen.events) == held + 1, what="one step")
    await asyncio.sleep(0.2)
    assert len(seen.events) == held + 1 and session.position == events[held].t
    session.step()
    session.step()
    await seen.until(lambda: len(seen.events) == held + 3, what="two steps")
    resumed = time.monotonic()
    session.resume()
    await asyncio.wait_for(run, 5)
    await seen.done()
    assert seen.events == events
    # playing on starts from the stepped event: the rest take their own time, not less
    assert time.monotonic() - resumed >= (events[-1].t - events[held + 2].t) * 0.9


async def test_seek_forward_publishes_up_to_t_and_backward_resets_then_republishes(tmp_path):
    path = tmp_path / "notes.jsonl"
    events = notes_recording(path, count=100, every=0.1)
    session = ReplayConsoleSession(path, speed=1.0, hold_at_end=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    session.pause()
    session.seek(5.0)
    await seen.until(lambda: session.position == 5.0, what="forward seek")
    assert seen.events == events[:51] and session.paused
    session.seek(2.0)
    await seen.until(lambda: session.position == 2.0, what="backward seek")
    assert seen.events[51] == ReplayReset(t=2.0) and seen.events[52:] == events[:21]
    session.set_speed(0)  # as fast as possible
    assert session.speed == 0.0
    session.resume()
    await seen.until(lambda: session.at_end, what="the end")
    assert seen.events[52:] == events
    assert not run.done()  # hold_at_end: the stream stays open for seeks
    session.pause()
    session.seek(0.0)
    await seen.until(lambda: isinstance(seen.events[-2], ReplayReset), what="seek to the start")
    assert seen.events[-2:] == [ReplayReset(t=0.0), events[0]]
    session.stop()
    await asyncio.wait_for(run, 2)
    await seen.done()


async def test_seeking_back_gives_the_same_summary_and_the_speed_can_change(tmp_path):
    session = ReplayConsoleSession(SHIPPED, speed=0)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    session.seek(100.0)
    await seen.until(lambda: session.position >= 99, what="seek")
    session.seek(40.0)
    session.set_speed(200)
    assert session.speed == 200
    result = await asyncio.wait_for(run, 10)
    await seen.done()
    assert sum(isinstance(e, ReplayReset) for e in seen.events) == 1
    assert result.summary == (await replay_headless(SHIPPED)).summary  # the aggregator started over


def test_a_bad_recording_is_refused_when_the_session_is_made(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"format": "something else"}\n')
    with pytest.raises(RecordingError):
        ReplayConsoleSession(path)
    empty = tmp_path / "empty.jsonl"
    notes_recording(empty, count=0)
    session = ReplayConsoleSession(empty)
    assert session.duration == 0.0 and session.position == 0.0


async def test_a_console_that_keeps_up_loses_nothing_in_a_burst_and_a_silent_one_is_not_waited_for():
    session = ReplayConsoleSession(SHIPPED, speed=0)
    reading = session.stream.subscribe("console", policy="drop", maxsize=200)
    silent = session.stream.subscribe("silent", policy="drop", maxsize=10)
    folded = []

    async def console() -> None:
        async for batch in reading.batches():
            folded.extend(batch)
            await asyncio.sleep(0.002)  # a frame's worth of work per batch

    task = asyncio.create_task(console())
    started = time.monotonic()
    await session.run()
    await task
    assert reading.dropped == 0 and len(folded) == session._replayer.published > 1000
    assert silent.dropped > 1000 and time.monotonic() - started < 5
