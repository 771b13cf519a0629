"""Sessions as the console drives them, with typed commands: a live one waits for StartRamp, is
steered and always stops its engines; a replay pauses, steps, seeks and keeps its speed, and says
so in ReplayStatus events. Real child processes throughout."""

import asyncio
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest
from session_helpers import Collector, attach_config, recorded

from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    InstanceState,
    LogLine,
    OperatorCommand,
    OperatorNote,
    ProcessSample,
    RampStatus,
    ReplayReset,
    ReplayStatus,
    RequestResult,
    StepStarted,
    SweepFinished,
)
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.core.recording import RecordingError, RecordingHeader
from quanttui.io.config import VariantConfig
from quanttui.io.openai_client import EndpointError, RequestOptions, Timeouts
from quanttui.io.recording_file import Recorder, open_recording
from quanttui.session import EndpointSpec, LiveSession, ReplaySession, SweepConfig, replay_headless
from quanttui.session.commands import (
    Pause,
    Resume,
    Seek,
    SeekBy,
    SetSpeed,
    SpeedStep,
    StartRamp,
    StepOnce,
    Stop,
    TogglePause,
)

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
    session = LiveSession(attach_config(tmp_path, servers, plan), PROMPTS)
    info = session.info
    assert (info.mode, info.variants, info.plan) == ("live", ("bf16", "awq"), plan)
    assert session.fold.ramp_state is None  # said once the session runs, so every subscriber hears it
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(EndpointInfo)) == 2, what="endpoints")
    assert session.fold.ramp_state == "waiting"
    await seen.until(lambda: len(seen.of(EngineSample)) >= 4, what="two scrapes of each engine")
    assert not seen.of(StepStarted) and not seen.of(RequestResult)
    assert not (tmp_path / "sweep.csv").exists()
    session.handle(StartRamp())
    assert session.fold.ramp_state == "running"
    result = await asyncio.wait_for(run, 20)
    await seen.done()
    (start,) = seen.of(OperatorCommand)
    assert start.command == "start" and seen.of(StepStarted)[0].t >= start.t
    assert [s.state for s in seen.of(RampStatus)] == ["waiting", "running", "finished"]
    assert result.summary["sweep"]["reason"] == "completed"
    assert [v["model"] for v in result.summary["variants"]] == ["m-bf16", "m-awq"]
    assert [e["model"] for e in session.header.config["endpoints"]] == ["m-bf16", "m-awq"]  # resolved
    assert session.fold.aggregator.sweep_end.reason == "completed"
    assert (await replay_headless(result.recording)).summary == result.summary


async def test_an_unreachable_endpoint_fails_run_writes_nothing_and_ends_the_stream(tmp_path, free_port):
    config = SweepConfig(
        endpoints=(EndpointSpec("x", f"http://127.0.0.1:{free_port}"),),
        plan=LoadPlan((1,), 1),
        options=RequestOptions(max_tokens=4),
        timeouts=Timeouts(connect_s=1.0),
        out_dir=tmp_path / "out",
    )
    session = LiveSession(config, PROMPTS, autostart=True)
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
    session = LiveSession(launch_config(tmp_path, plan), PROMPTS, variants, progress=lines.append)
    assert session.info.variants == ("bf16", "awq") and session.header.config["command"] == "run"
    assert session.info.can_restart
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(EndpointInfo)) == 2, timeout=30, what="engines ready")
    await seen.until(lambda: {s.variant for s in seen.of(ProcessSample)} == {"bf16", "awq"}, what="samples")
    assert not seen.of(StepStarted)  # engines up, ramp not started
    session.handle(StartRamp())
    await seen.until(lambda: len(seen.of(RequestResult)) >= 6, what="results")
    session.handle(Stop())
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
    ramp = [e["state"] for e in recorded(result.recording) if e["type"] == "RampStatus"]
    assert ramp == ["waiting", "running", "stopping", "finished"]
    assert (await replay_headless(result.recording)).summary == result.summary


async def test_stop_during_engine_start_up_stops_the_engine_at_once(tmp_path, free_port):
    hang = VariantConfig(
        name="slow", model="m", served_name="slow", port=free_port, stop_grace_s=2.0,
        command=(sys.executable, "-c", "import time; print('loading', flush=True); time.sleep(60)"),
    )  # fmt: skip
    session = LiveSession(launch_config(tmp_path, LoadPlan((1,), 1)), PROMPTS, [hang], autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: any(e.state == "launching" for e in seen.of(InstanceState)), what="launch")
    await seen.until(
        lambda: any(e.line == "loading" for e in seen.of(LogLine)), what="the engine's first line"
    )
    pid = session.launcher.engines["slow"].pid
    assert pid and psutil.pid_exists(pid)
    started = time.monotonic()
    session.handle(Stop())
    result = await asyncio.wait_for(run, 10)
    assert time.monotonic() - started < 5
    await seen.done()
    assert result.summary["sweep"]["reason"] == "stopped"
    assert seen.of(InstanceState)[-1].state in ("stopped", "failed")
    assert gone([pid])


async def test_cancelling_run_is_an_interruption_and_still_stops_the_engines(tmp_path, free_port):
    variants = [sim_variant("bf16", free_port)]
    plan = LoadPlan(concurrencies=(2,), requests_per_step=500)
    session = LiveSession(launch_config(tmp_path, plan), PROMPTS, variants, autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(RequestResult)) >= 4, timeout=30, what="results")
    run.cancel()
    result = await asyncio.wait_for(run, 20)
    await seen.done()
    assert result.interrupted and seen.of(SweepFinished)[-1].reason == "interrupted"
    assert gone([p for info in seen.of(EndpointInfo) for p in info.pids])


async def replay_events(path: Path):
    _, events = open_recording(path)
    for event in events:
        yield event


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
    session = ReplaySession(SHIPPED, speed=50)
    info = session.info
    assert info.mode == "replay" and info.variants == ("bf16", "awq")
    assert info.plan is not None and info.plan.concurrencies == (1, 2, 4, 8)
    assert 129 < info.duration < 131
    seen = Collector(session.stream)
    started = time.monotonic()
    result = await session.run()
    elapsed = time.monotonic() - started
    await seen.done()
    assert info.duration / 50 * 0.95 < elapsed < info.duration / 50 + 1.0
    first, last = seen.of(ReplayStatus)[0], seen.replay_status()
    assert first.speed == 50 and not first.paused and first.duration == info.duration
    assert last.at_end and seen.replayed[-1].t == info.duration
    assert result.summary == (await replay_headless(SHIPPED)).summary


async def test_pause_holds_step_publishes_exactly_one_and_resume_goes_on(tmp_path):
    path = tmp_path / "notes.jsonl"
    events = notes_recording(path, count=30, every=0.05)
    session = ReplaySession(path, speed=1.0)
    assert session.info.duration == pytest.approx(1.45) and session.info.plan is None
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.replayed) >= 5, what="first events")
    session.handle(Pause())
    await seen.until(lambda: seen.replay_status().paused, what="paused")
    held = len(seen.replayed)
    await asyncio.sleep(0.3)  # what is tested: nothing is published while paused
    assert len(seen.replayed) == held
    assert seen.replay_status().position == seen.replayed[-1].t
    session.handle(StepOnce())
    await seen.until(lambda: len(seen.replayed) == held + 1, what="one step")
    await asyncio.sleep(0.2)  # what is tested: a step publishes exactly one
    assert len(seen.replayed) == held + 1 and seen.replay_status().position == events[held].t
    session.handle(StepOnce())
    session.handle(StepOnce())
    await seen.until(lambda: len(seen.replayed) == held + 3, what="two steps")
    resumed = time.monotonic()
    session.handle(Resume())
    await asyncio.wait_for(run, 5)
    await seen.done()
    assert seen.replayed == events
    # playing on starts from the stepped event: the rest take their own time, not less
    assert time.monotonic() - resumed >= (events[-1].t - events[held + 2].t) * 0.9


async def test_seek_forward_publishes_up_to_t_and_backward_resets_then_republishes(tmp_path):
    path = tmp_path / "notes.jsonl"
    events = notes_recording(path, count=100, every=0.1)
    session = ReplaySession(path, speed=1.0, hold_at_end=True)
    seen = Collector(session.stream)

    def position() -> float | None:
        status = seen.replay_status()
        return status.position if status else None

    run = asyncio.create_task(session.run())
    session.handle(Pause())
    session.handle(Seek(5.0))
    await seen.until(lambda: position() == 5.0, what="forward seek")
    assert seen.replayed == events[:51] and seen.replay_status().paused
    session.handle(Seek(2.0))
    await seen.until(lambda: position() == 2.0, what="backward seek")
    assert seen.replayed[51] == ReplayReset(t=2.0) and seen.replayed[52:] == events[:21]
    session.handle(SetSpeed(0))  # as fast as possible
    await seen.until(lambda: seen.replay_status().speed == 0.0, what="the new speed")
    session.handle(Resume())
    await seen.until(lambda: seen.replay_status().at_end, what="the end")
    assert seen.replayed[52:] == events
    assert not run.done()  # hold_at_end: the stream stays open for seeks
    session.handle(Pause())
    session.handle(Seek(0.0))
    await seen.until(lambda: isinstance(seen.replayed[-2], ReplayReset), what="seek to the start")
    assert seen.replayed[-2:] == [ReplayReset(t=0.0), events[0]]
    session.handle(Stop())
    await asyncio.wait_for(run, 2)
    await seen.done()


async def test_seeking_back_gives_the_same_summary_and_the_speed_can_change(tmp_path):
    session = ReplaySession(SHIPPED, speed=0)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    session.handle(Seek(100.0))
    await seen.until(lambda: session.fold.aggregator.last_t >= 99, what="seek")
    session.handle(Seek(40.0))
    session.handle(SetSpeed(200))
    result = await asyncio.wait_for(run, 10)
    await seen.done()
    assert sum(isinstance(e, ReplayReset) for e in seen.events) == 1
    assert seen.replay_status().speed == 200
    assert result.summary == (await replay_headless(SHIPPED)).summary  # the fold started over


def test_a_bad_recording_is_refused_when_the_session_is_made(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"format": "something else"}\n')
    with pytest.raises(RecordingError):
        ReplaySession(path)
    empty = tmp_path / "empty.jsonl"
    notes_recording(empty, count=0)
    session = ReplaySession(empty)
    assert session.info.duration == 0.0


async def test_a_console_that_keeps_up_loses_nothing_in_a_burst_and_a_silent_one_is_not_waited_for():
    session = ReplaySession(SHIPPED, speed=0)
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
    replayed = [e for e in folded if not isinstance(e, ReplayStatus)]
    assert reading.dropped == 0 and len(folded) == session.stream.published
    assert replayed == [e async for e in replay_events(SHIPPED)] and len(replayed) > 1000
    assert silent.dropped > 1000 and time.monotonic() - started < 5


async def test_keys_typed_ahead_are_resolved_by_the_replay_itself(tmp_path):
    """TogglePause, SeekBy and SpeedStep are decided where the replay stands, not where a screen
    last saw it: three toggles pause, resume, pause; two seeks back go 20 s back."""
    path = tmp_path / "notes.jsonl"
    notes_recording(path, count=300, every=0.1)  # 29.9 s
    session = ReplaySession(path, speed=1.0, hold_at_end=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    session.handle(Seek(25.0))
    await seen.until(lambda: session.fold.aggregator.last_t == 25.0, what="seek")
    for _ in range(3):
        session.handle(TogglePause())
    session.handle(SeekBy(-10.0))
    session.handle(SeekBy(-10.0))
    await seen.until(lambda: sum(isinstance(e, ReplayReset) for e in seen.events) == 1, what="reset")
    await seen.until(lambda: seen.replay_status().position == 5.0, what="20 s back")
    assert seen.replay_status().paused
    for _ in range(3):
        session.handle(SpeedStep(+1))  # 1 -> 2 -> 4 -> 8
    session.handle(SpeedStep(-1))  # -> 4
    await seen.until(lambda: seen.replay_status().speed == 4.0, what="speed 4")
    session.handle(SetSpeed(0))  # as fast as possible: above every notch
    session.handle(SpeedStep(+1))
    session.handle(SpeedStep(-1))
    await seen.until(lambda: seen.replay_status().speed == 64.0, what="the fastest notch")
    session.handle(SeekBy(-100.0))  # clamped to the start
    await seen.until(lambda: seen.replay_status().position == 0.0, what="the start")
    session.handle(Stop())
    await asyncio.wait_for(run, 5)
    await seen.done()
