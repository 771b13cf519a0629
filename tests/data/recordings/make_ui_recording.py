"""Makes `ui-sim.jsonl`, the recording the console tests replay (run from the repository root).

Two launched "engines" (fake_engine.py: a real vLLM 0.32 start-up log, then the simulator) are
swept 1-2-4-8 with an 800 ms p95 SLO: the bf16 one crosses it, the awq one does not.
The simulator's speeds are settings, not a model's: this file tests the console, not a result.

    .venv/bin/python tests/data/recordings/make_ui_recording.py
"""

import asyncio
import json
import socket
import sys
import tempfile
from pathlib import Path

from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.io.config import VariantConfig
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.session import SweepConfig, run_launched_sweep

HERE = Path(__file__).parent
LOGS = HERE.parent / "vllm-logs"


def engine(name: str, port: int, log: str, sim_flags: list[str]) -> VariantConfig:
    command = (sys.executable, str(HERE / "fake_engine.py"), str(LOGS / log), "1.5")
    return VariantConfig(
        name=name, model=f"smol-{name}", served_name=f"smol-{name}", precision=name, port=port,
        command=command, extra_args=tuple(sim_flags), stop_grace_s=3.0,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def main() -> None:
    variants = [
        engine("bf16", free_port(), "serve-vllm-0.32.0-cpu-bf16.log",
               ["--ttft-ms", "60", "--itl-ms", "14", "--max-num-seqs", "4", "--kv-cache-tokens", "512",
                "--load-factor", "0.3"]),
        engine("awq", free_port(), "serve-vllm-0.32.0-cpu-awq.log",
               ["--ttft-ms", "40", "--itl-ms", "8", "--max-num-seqs", "8", "--kv-cache-tokens", "2048",
                "--load-factor", "0.1"]),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        config = SweepConfig(
            endpoints=(),
            plan=LoadPlan(
                concurrencies=(1, 2, 4, 8), requests_per_step=12, warmup_requests=1, slo=Slo(800.0)
            ),
            options=RequestOptions(max_tokens=24, ignore_eos=True, seed=7),
            timeouts=Timeouts(),
            out_dir=Path(tmp),
            scrape_interval_s=0.25,
            gpu_interval_s=1.0,
        )
        result = await run_launched_sweep(variants, config, list(DEFAULT_PROMPTS), print)
        text = (Path(tmp) / "recording.jsonl").read_text()
        # Keep this machine's paths and name out of a committed file.
        text = text.replace(sys.executable, "python").replace(str(HERE.parents[2]) + "/", "")
        header, rest = text.split("\n", 1)
        data = json.loads(header)
        data["host"] = {
            key: "test" if isinstance(value, str) else value for key, value in data["host"].items()
        }
        (HERE / "ui-sim.jsonl").write_text(json.dumps(data, separators=(",", ":")) + "\n" + rest)
    print({v["name"]: (v["first_conc_over_slo"], v["retired"]) for v in result.summary["variants"]})


if __name__ == "__main__":
    asyncio.run(main())
