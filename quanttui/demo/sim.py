"""Demo backend `sim`: simulated vLLM servers standing in for a BF16 and an AWQ engine (and, with
`--all`, a GPTQ one and a GGUF one that, like llama-cpp-python's server, exports no /metrics).

The simulators are launched like engines (the engine launcher starts `python -m quanttui.sim.server`
with vLLM's flags), so the sim demo takes the same path as a real one: console or headless, start-up
states, process groups, the reaper. Their latencies are the simulator's settings, not a model's:
it shows the tool, not a result.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

from quanttui.core.loadplan import LoadPlan, Schedule
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.demo.names import TWO
from quanttui.io.config import VariantConfig
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.session import SessionResult, SweepConfig, run_launched_sweep
from quanttui.session.derived_slo import DERIVED_SLO_FACTOR
from quanttui.sim.engine import SimConfig

SIM_COMMAND = (sys.executable, "-m", "quanttui.sim.server")
# Simulator settings shaped like a small model on a busy GPU: the "awq" engine decodes faster
# and has room for more sequences, the "bf16" one slows down sooner as its batch grows.
# Fast enough that adaptive steps (128 requests to decide "meets" at concurrency 1) finish the
# ramp in about two minutes. Answers come from the simulator's answer book (sim/answers.py):
# bf16's are the reference; each quantized engine departs from them on a share `drift` of the
# prompts (loops, truncation, wrong numbers, a changed word), so a triage shows flags and diffs.
SIM_VARIANTS = {
    "bf16": dict(
        ttft_ms=60.0, itl_ms=12.0, max_num_seqs=6, kv_cache_tokens=2048, block_size=16, load_factor=0.12,
        answers="book",
    ),
    "awq": dict(
        ttft_ms=45.0, itl_ms=7.5, max_num_seqs=12, kv_cache_tokens=4096, block_size=16, load_factor=0.12,
        answers="book", drift=0.4,
    ),
    "gptq": dict(
        ttft_ms=48.0, itl_ms=8.0, max_num_seqs=12, kv_cache_tokens=4096, block_size=16, load_factor=0.13,
        answers="book", drift=0.5,
    ),
    "gguf": dict(
        ttft_ms=55.0, itl_ms=10.0, max_num_seqs=1, kv_cache_tokens=4096, metrics="none", answers="book",
        drift=0.35,
    ),
}  # fmt: skip
# No SLO: the demo derives one from bf16's single-user latency (session/derived_slo.py); adaptive
# steps; one variant at a time (launched engines share the machine).
DEMO_PLAN = LoadPlan(concurrencies=(1, 2, 4, 8, 16), schedule=Schedule.ALTERNATE, max_step_seconds=60.0)
DEMO_OPTIONS = RequestOptions(max_tokens=16, temperature=0.0, seed=1234, ignore_eos=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sim_variants(names: tuple[str, ...] = TWO) -> list[VariantConfig]:
    variants = []
    for name in names:
        settings = SIM_VARIANTS[name]
        extra = SimConfig(**settings).to_argv()  # type: ignore[arg-type]  # the launcher adds the model
        variants.append(
            VariantConfig(
                name=name, model=f"demo-{name}", served_name=f"demo-{name}", precision=name,
                port=_free_port(), command=SIM_COMMAND, extra_args=tuple(extra),
                startup_timeout_s=30.0, stop_grace_s=5.0,
            )
        )  # fmt: skip
    return variants


def sim_config(out_dir: Path) -> SweepConfig:
    return SweepConfig(
        endpoints=(),
        plan=DEMO_PLAN,
        options=DEMO_OPTIONS,
        timeouts=Timeouts(),
        out_dir=out_dir,
        prompts_source="embedded default",
        scrape_interval_s=0.5,
        derive_slo_factor=DERIVED_SLO_FACTOR,
    )


SIM_HEADER: dict[str, object] = {"demo": {"backend": "sim"}}


async def run_sim_demo(
    out_dir: Path, progress: Callable[[str], None], names: tuple[str, ...] = TWO
) -> SessionResult:
    return await run_launched_sweep(
        sim_variants(names), sim_config(out_dir), list(DEFAULT_PROMPTS), progress, extra_header=SIM_HEADER
    )
