"""A launched session end to end with the simulator standing in for vLLM: recorded start-up, sweep, stop."""

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
    assert summary["variants"][0]["requests"] == 6
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
