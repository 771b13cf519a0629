"""How faithful is quanttui's streaming client, and how much can it take on one core?

Against the project's simulated vLLM server (a real child process, pinned to its own core) that
paces tokens at a known schedule (TTFT 200 ms, ITL 20 ms), the client (this process, pinned to
another core) measures TTFT and ITL at 1, 64 and 256 concurrent streams; the error is measured
minus scheduled. Then the server sends as fast as it can and we count the chunks the client
takes per second and per CPU-second of its own core.

The error includes the simulator's own lateness (one Python process writing every chunk), so it
is an upper bound on the client's error. Usage: `python bench/client_fidelity.py [--quick]`;
writes bench/results/client_fidelity.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from quanttui.core.stats import percentile
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions, Timeouts
from quanttui.sim.process import start_sim_server

RESULTS = Path(__file__).parent / "results"
TTFT_MS = 200.0
ITL_MS = 20.0


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _pin(cpus: set[int]) -> bool:
    try:
        os.sched_setaffinity(0, cpus)
        return True
    except (AttributeError, OSError):
        return False


async def _drive(url: str, concurrency: int, requests_per_stream: int, max_tokens: int) -> tuple[list, list]:
    """Closed loop: `concurrency` streams, each sending requests back to back on a shared pool.

    Returns (cold, warm): each stream's first request pays for its TCP connection; the rest reuse it.
    """
    options = RequestOptions(max_tokens=max_tokens, ignore_eos=True)
    timeouts = Timeouts(first_token_s=60, idle_s=60)
    async with OpenAIStreamClient(url, "bench", concurrency=concurrency, timeouts=timeouts) as client:

        async def stream(i: int) -> list:
            outs = []
            for j in range(requests_per_stream):
                messages = [{"role": "user", "content": f"stream {i} request {j}"}]
                outs.append(await client.stream_chat(messages, options))
            return outs

        batches = await asyncio.gather(*(stream(i) for i in range(concurrency)))
    return [b[0] for b in batches], [o for b in batches for o in b[1:]]


def _errors(outcomes: list) -> dict[str, float | int | None]:
    ok = [o for o in outcomes if o.ok]
    ttft_err = [o.ttft_s * 1000 - TTFT_MS for o in ok]
    itl_err = [gap / 1000 - ITL_MS for o in ok for gap in o.itl_us]

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    return {
        "requests": len(outcomes),
        "failed": len(outcomes) - len(ok),
        "ttft_err_p50_ms": r(percentile(ttft_err, 50)),
        "ttft_err_p99_ms": r(percentile(ttft_err, 99)),
        "ttft_abs_err_p99_ms": r(percentile([abs(e) for e in ttft_err], 99)),
        "itl_samples": len(itl_err),
        "itl_err_p50_ms": r(percentile(itl_err, 50)),
        "itl_err_p99_ms": r(percentile(itl_err, 99)),
        "itl_abs_err_p99_ms": r(percentile([abs(e) for e in itl_err], 99)),
    }


async def _ceiling(url: str, concurrency: int, max_tokens: int) -> dict[str, float]:
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    cold, warm = await _drive(url, concurrency, 1, max_tokens)
    outcomes = cold + warm
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    chunks = sum(o.token_chunks for o in outcomes)
    return {
        "streams": concurrency,
        "chunks": chunks,
        "failed": sum(1 for o in outcomes if not o.ok),
        "wall_s": round(wall, 3),
        "client_cpu_s": round(cpu, 3),
        "client_cpu_util": round(cpu / wall, 3),
        "chunks_per_s": round(chunks / wall),
        "chunks_per_client_cpu_s": round(chunks / cpu),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    pinned = cores >= 2 and _pin({0})
    server_cpus = {1} if pinned else None
    levels = {1: 20, 64: 3, 256: 2} if not args.quick else {1: 5, 64: 1, 256: 1}
    max_tokens = 32
    fidelity = []
    with start_sim_server(
        "bench", ttft_ms=TTFT_MS, itl_ms=ITL_MS, max_num_seqs=4096, kv_cache_tokens=10**8, cpus=server_cpus
    ) as server:
        asyncio.run(_drive(server.url, 4, 1, 4))  # warm the interpreter and the server
        server_process = psutil.Process(server.pid)
        for concurrency, rounds in levels.items():
            wall0, cpu0, server0 = time.perf_counter(), time.process_time(), _cpu(server_process)
            cold, warm = asyncio.run(_drive(server.url, concurrency, rounds + 1, max_tokens))
            wall = time.perf_counter() - wall0
            cold_stats = _errors(cold)
            row = {
                "concurrency": concurrency,
                **_errors(warm),
                "cold_ttft_err_p50_ms": cold_stats["ttft_err_p50_ms"],
                "cold_ttft_err_p99_ms": cold_stats["ttft_err_p99_ms"],
                "client_cpu_util": round((time.process_time() - cpu0) / wall, 3),
                "server_cpu_util": round((_cpu(server_process) - server0) / wall, 3),
            }
            fidelity.append(row)
            print(json.dumps(row), file=sys.stderr)
    with start_sim_server(
        "bench",
        ttft_ms=0,
        itl_ms=0,
        max_num_seqs=4096,
        kv_cache_tokens=10**9,
        max_model_len=10**6,
        cpus=server_cpus,
    ) as server:
        ceiling = asyncio.run(_ceiling(server.url, 16, 2000 if not args.quick else 300))
        print(json.dumps(ceiling), file=sys.stderr)
    result = {
        "bench": "client_fidelity",
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {
            "cpu": platform.processor() or platform.machine(),
            "cores": cores,
            "python": platform.python_version(),
        },
        "pinned": {"client_cpu": 0, "server_cpu": 1} if pinned else None,
        "schedule": {"ttft_ms": TTFT_MS, "itl_ms": ITL_MS, "max_tokens": max_tokens},
        "quick": args.quick,
        "fidelity": fidelity,
        "ceiling": ceiling,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "client_fidelity.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "client_fidelity.md").write_text(_markdown(result))
    print((args.out / "client_fidelity.md").read_text())
    return 0


def _markdown(result: dict) -> str:
    lines = [
        f"# client_fidelity ({result['date_utc']})",
        "",
        f"Schedule: TTFT {TTFT_MS:g} ms, ITL {ITL_MS:g} ms, {result['schedule']['max_tokens']} tokens per request; "
        f"client pinned to CPU 0, simulated server to CPU 1: {bool(result['pinned'])}.",
        "Error = measured - scheduled (includes the simulator's own lateness). Warm requests reuse a pooled",
        "connection; the cold columns are each stream's first request, which also opens its TCP connection.",
        "",
        "| streams | warm requests | TTFT err p50 | TTFT err p99 | ITL err p50 | ITL err p99 | ITL samples "
        "| cold TTFT err p50 | cold TTFT err p99 | client CPU | server CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["fidelity"]:
        lines.append(
            f"| {row['concurrency']} | {row['requests']} | {row['ttft_err_p50_ms']} ms | {row['ttft_err_p99_ms']} ms "
            f"| {row['itl_err_p50_ms']} ms | {row['itl_err_p99_ms']} ms | {row['itl_samples']} "
            f"| {row['cold_ttft_err_p50_ms']} ms | {row['cold_ttft_err_p99_ms']} ms "
            f"| {row['client_cpu_util']:.0%} | {row['server_cpu_util']:.0%} |"
        )
    c = result["ceiling"]
    lines += [
        "",
        f"Ceiling: {c['streams']} streams, server unpaced: {c['chunks_per_s']} chunks/s wall, "
        f"client CPU {c['client_cpu_util']:.0%} of one core, {c['chunks_per_client_cpu_s']} chunks per client CPU-second.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
