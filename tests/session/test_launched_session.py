"""A launched session end to end with the simulator standing in for vLLM: recorded start-up, sweep, stop."""

import asyncio
import json
import sys

import psutil

from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.io.config import VariantConfig
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.session import SweepConfig, replay_headless, run_launched_sweep

SIM = (sys.executable, "-m", "quanttui.sim.server")


async def test_launch_sweep_stop_and_replay(tmp_path, free_port, sim_server):
    busy = sim_server(model="busy")
    variants = [
        VariantConfig(name="bf16", model="m", served_name="smol-bf16", precision="bf16", port=free_port,
                      command=SIM, extra_args=("--ttft-ms", "20", "--itl-ms", "5")),
        VariantConfig(name="awq", model="m", served_name="smol-awq", precision="awq", port=busy.port, command=SIM),
    ]  # fmt: skip
    config = SweepConfig(
        endpoints=(),
        plan=LoadPlan(concurrencies=(1, 2), requests_per_step=3),
        options=RequestOptions(max_tokens=8, ignore_eos=True),
        timeouts=Timeouts(),
        out_dir=tmp_path,
        scrape_interval_s=0.2,
    )
    lines: list[str] = []
    result = await run_launched_sweep(variants, config, list(DEFAULT_PROMPTS), lines.append)
    summary = result.summary
    assert [v["name"] for v in summary["variants"]] == ["bf16"]  # awq could not start: its port was taken
    assert summary["variants"][0]["requests"] == 12  # 3 per step asked, but at least 4 x concurrency: 4 + 8
    assert any("[awq] failed: port in use" in line for line in lines)

    records = [json.loads(line) for line in (tmp_path / "recording.jsonl").read_text().splitlines()]
    header, events = records[0], records[1:]
    assert header["config"]["command"] == "run"
    assert [v["served_name"] for v in header["config"]["variants"]] == ["smol-bf16", "smol-awq"]
    states = [(e["variant"], e["state"]) for e in events if e["type"] == "InstanceState"]
    assert ("bf16", "ready") in states and ("bf16", "stopped") in states and ("awq", "failed") in states
    info = next(e for e in events if e["type"] == "EndpointInfo")
    assert info["model"] == "smol-bf16" and info["pids"]
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
               for pid in info["pids"])  # fmt: skip
    assert (tmp_path / "logs" / "bf16.log").read_text().startswith("LISTENING")

    replayed = await replay_headless(tmp_path / "recording.jsonl")
    assert replayed.summary == summary


async def test_a_killed_engine_is_restarted_and_rejoins_the_ramp(tmp_path, free_port):
    import os
    import signal

    from session_helpers import Collector

    from quanttui.core.events import InstanceState, RequestResult
    from quanttui.session import LiveSession

    variants = [
        VariantConfig(name="bf16", model="m", served_name="smol-bf16", precision="bf16", port=free_port,
                      command=SIM, extra_args=("--ttft-ms", "20", "--itl-ms", "5")),
    ]  # fmt: skip
    config = SweepConfig(
        endpoints=(), plan=LoadPlan(concurrencies=(1, 1, 1, 1, 1), step_seconds=1.0, max_error_rate=1.0),
        options=RequestOptions(max_tokens=4, ignore_eos=True), timeouts=Timeouts(), out_dir=tmp_path,
        scrape_interval_s=0.2,
    )  # fmt: skip
    session = LiveSession(config, list(DEFAULT_PROMPTS), variants, autostart=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())

    def states() -> list[str]:
        return [e.state for e in seen.of(InstanceState)]

    await seen.until(lambda: len(seen.of(RequestResult)) >= 3, what="requests flowing")
    os.kill(session.launcher.engines["bf16"].pid, signal.SIGKILL)
    await seen.until(lambda: "failed" in states(), what="the engine seen as failed")
    killed_at = session.clock.now()
    session.restart_failed()
    await seen.until(lambda: states().count("ready") == 2, timeout=20, what="ready again")
    await asyncio.wait_for(run, 30)
    await seen.done()
    after = [r for r in seen.of(RequestResult) if r.start > killed_at and r.ok]
    assert after, "requests succeed again after the restart"
    assert any(e.pids for e in seen.events if type(e).__name__ == "EndpointInfo" and e.t > killed_at)
