"""Demo backend `sim`: two simulated vLLM servers standing in for a BF16 and an AWQ engine.

Backend `sim` starts two simulated vLLM servers (real HTTP, real child processes, vLLM's wire
format and /metrics) standing in for a BF16 and an AWQ engine, and runs a short ramp at both.
Its latencies are the simulator's settings, not a model's: it shows the tool, not a result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.session import EndpointSpec, SessionResult, SweepConfig, run_sweep
from quanttui.sim.process import start_sim_server

# Simulator settings shaped like a small model on a busy GPU: the "awq" engine decodes faster
# and has room for more sequences, the "bf16" one slows down sooner as its batch grows.
SIM_VARIANTS = {
    "bf16": dict(
        ttft_ms=120.0, itl_ms=24.0, max_num_seqs=6, kv_cache_tokens=2048, block_size=16, load_factor=0.12
    ),
    "awq": dict(
        ttft_ms=90.0, itl_ms=15.0, max_num_seqs=12, kv_cache_tokens=4096, block_size=16, load_factor=0.08
    ),
}
DEMO_PLAN = LoadPlan(concurrencies=(1, 2, 4, 8, 16), requests_per_step=16, warmup_requests=2, slo=Slo(1500.0))
DEMO_OPTIONS = RequestOptions(max_tokens=32, temperature=0.0, seed=1234, ignore_eos=True)


async def run_sim_demo(out_dir: Path, progress: Callable[[str], None]) -> SessionResult:
    with contextlib.ExitStack() as stack:
        specs = []
        for name, settings in SIM_VARIANTS.items():
            server = stack.enter_context(start_sim_server(f"demo-{name}", **settings))
            progress(f"started simulated engine {name} on {server.url} (pid {server.pid})")
            specs.append(EndpointSpec(name=name, url=server.url, precision=name))
        config = SweepConfig(
            endpoints=tuple(specs),
            plan=DEMO_PLAN,
            options=DEMO_OPTIONS,
            timeouts=Timeouts(),
            out_dir=out_dir,
            prompts_source="embedded default",
            scrape_interval_s=0.5,
        )
        return await run_sweep(config, list(DEFAULT_PROMPTS), progress)
