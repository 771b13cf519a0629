"""Client fidelity side by side: quanttui, `vllm bench serve`, GuideLLM and AIPerf against one timed server.

The server is the project's simulator (a child process pinned to CPU 1) pacing 32-token answers
at TTFT 200 ms / ITL 20 ms, with its send log on: per request, when it received it and when it
handed each token chunk to the socket (perf_counter_ns, CLOCK_MONOTONIC). Every tool runs through
its own command line as a child process whose whole tree is pinned to CPU 0, one after the other,
at 1, 64, 256 and 1,024 streams; each repeat starts a fresh server. A tool's error is its own
reported percentile minus the same percentile of the server's truth over the requests it measured:
TTFT truth = first token-chunk write - request received; ITL truth = gaps between consecutive
token-chunk writes. So the error is what the client adds (sending, reading, parsing, its event
loop), not the server's lateness, which is reported on its own (send time - schedule).

Usage: `python bench/vs_peers.py [--quick] [--tools quanttui,vllm,guidellm,aiperf] [--levels 1,64]
[--repeats 2]`; writes bench/results/vs_peers.json and .md (`--quick`: vs_peers_quick.*).

`--ceiling` (issue 21) measures the client's ceiling instead: quanttui with 1, 2 and 4 load worker
processes beside the peers at 256, 512 and 1,024 streams, with the output tokens per second the
server wrote over the measured requests (each token one chunk here) against what the schedule
would give if nothing were late; writes vs_peers_ceiling.*.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from peer_tools import CEILING, PEERS, QUIRKS, TOOLS, Tool, ToolMetrics, ToolUnavailable, Workload, tool_env

from quanttui.core.stats import percentile
from quanttui.sim.process import start_sim_server
from quanttui.sim.sendlog import read_send_log

RESULTS = Path(__file__).parent / "results"
TTFT_MS, ITL_MS, TOKENS = 200.0, 20.0, 32
PROMPT = "Describe the ocean in two sentences."
MODEL = "sim"
CLIENT_CPU, SERVER_CPU = 0, 1
# streams -> measured requests. Warm-up is one request per stream for every tool. quanttui's fixed
# steps measure at least 4 x concurrency, which sets 256 and 1,024 streams to 4 per stream for all.
FULL_REQUESTS = {1: 100, 64: 640, 256: 1024, 1024: 4096}
QUICK_REQUESTS = {1: 10, 64: 256}
CEILING_REQUESTS = {256: 1024, 512: 2048, 1024: 4096}


def log(message: str) -> None:
    print(f"[vs_peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Run:
    """One tool at one level in one repeat."""

    tool: str
    streams: int
    repeat: int
    measured: int
    warmup: int
    ok: bool = False
    reason: str | None = None
    wall_s: float = 0.0
    cpu_s: float | None = None  # getrusage(RUSAGE_CHILDREN) delta: the whole waited-for tree
    cpu_tree_poll_s: float | None = None  # psutil polling of the live tree (a cross-check)
    metrics: ToolMetrics | None = None
    server: dict[str, Any] = field(default_factory=dict)  # truth percentiles and lateness
    errors: dict[str, float | None] = field(default_factory=dict)
    window_ns: tuple[int, int] = (0, 0)


def _pin_client() -> None:
    os.sched_setaffinity(0, {CLIENT_CPU})


def _tree_cpu(root: psutil.Process, seen: dict[int, float]) -> None:
    """Latest user+system CPU of every live process in the tree (misses what a process spends after
    the last poll, and short-lived processes between polls)."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        try:
            times = proc.cpu_times()
            seen[proc.pid] = times.user + times.system
        except psutil.Error:
            continue


def run_tool(tool: Tool, w: Workload, run: Run, timeout_s: float) -> None:
    """Run one tool to completion in its own session, pinned, and measure its whole tree's CPU."""
    argv, extra_env = tool.command(w)
    out, err = (w.work / "stdout.txt").open("wb"), (w.work / "stderr.txt").open("wb")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start_ns = time.perf_counter_ns()
    proc = subprocess.Popen(argv, cwd=w.work, env=tool_env(extra_env), stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_pin_client)  # fmt: skip
    seen: dict[int, float] = {}
    root = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout_s
    timed_out = False
    split = getattr(tool, "split_session", False)
    while proc.poll() is None:
        _tree_cpu(root, seen)
        if split and root.children():
            root.cpu_affinity([SERVER_CPU])  # the session only: its workers keep CPU 0
            split = False
        if time.monotonic() > deadline:
            timed_out = True
            os.killpg(proc.pid, 9)  # the tool's own session: its process group, nothing else
            proc.wait()
            break
        time.sleep(0.05 if split else 0.5)
    end_ns = time.perf_counter_ns()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.close()
    err.close()
    run.window_ns = (start_ns, end_ns)
    run.wall_s = round((end_ns - start_ns) / 1e9, 2)
    run.cpu_s = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    run.cpu_tree_poll_s = round(sum(seen.values()), 2)
    if timed_out:
        run.reason = f"timed out after {timeout_s:.0f} s"
        return
    if proc.returncode != 0:
        text = (w.work / "stderr.txt").read_text(errors="replace") or (w.work / "stdout.txt").read_text(
            errors="replace"
        )
        lines = [
            ln.strip()
            for ln in text.splitlines()
            if ln.strip() and "leaked" not in ln and "nanobind" not in ln
        ]
        run.reason = f"exit {proc.returncode}: {(lines[-1] if lines else '(no output)')[:160]}"
        return
    try:
        run.metrics = tool.parse(w)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        run.reason = f"unreadable output: {type(exc).__name__}: {str(exc)[:140]}"
        return
    run.ok = True


def _r(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def judge(run: Run, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Server truth for the requests this run measured, and the tool's errors against it.

    The measured requests are the last streamed requests the server received during the run, as
    many as the tool counted (completed + failed; else the number asked for): every tool sends its
    probes and warm-ups first. Concurrency is what the server saw over them: Σ request durations /
    their span (first receipt to last byte)."""
    start, end = run.window_ns
    mine = [r for r in records if start <= r["recv"] <= end and r["t"]]
    counted = run.metrics.completed + run.metrics.failed if run.metrics else run.measured
    measured = mine[-counted:] if counted else []
    ttft = [r["t"][0] / 1e6 for r in measured]
    gaps = [(b - a) / 1e6 for r in measured for a, b in zip(r["t"], r["t"][1:], strict=False)]
    late = [x / 1e6 for r in measured for x in r["late"]]
    ends = [r["recv"] + (r["end"] or r["t"][-1]) for r in measured]
    span = (max(ends) - measured[0]["recv"]) if measured else 0
    busy = sum(e - r["recv"] for e, r in zip(ends, measured, strict=True))
    written = sum(len(r["t"]) for r in measured)
    run.server = {
        "requests": len(measured),
        "concurrency": round(busy / span, 1) if span > 0 else None,
        "probes_and_warmups": len(mine) - len(measured),
        "ttft_p50_ms": _r(percentile(ttft, 50)),
        "ttft_p99_ms": _r(percentile(ttft, 99)),
        "itl_p50_ms": _r(percentile(gaps, 50)),
        "itl_p99_ms": _r(percentile(gaps, 99)),
        "late_p50_ms": _r(percentile(late, 50)),
        "late_p99_ms": _r(percentile(late, 99)),
        # token chunks written per second over the measured requests (one token per chunk here)
        "tok_s": round(written / (span / 1e9), 1) if span > 0 else None,
    }
    m = run.metrics
    if m is None:
        return measured
    for key in ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms"):
        ours, truth = getattr(m, key), run.server[key]
        run.errors[key] = None if ours is None or truth is None else round(ours - truth, 2)
    if m.requests:
        run.errors |= paired(m.requests, measured)
    run.errors |= {k: v for k, v in m.extras.items() if k.startswith("self_") and v is not None}
    return measured


def paired(
    client: list[tuple[float, float, tuple[int, ...]]], server: list[dict[str, Any]]
) -> dict[str, Any]:
    """quanttui only: per-chunk error, each request matched by order (client send = server receipt).

    Client chunk i at (ttft + Σ gaps) after its send; server chunk i at t[i] after its receipt; the
    difference is that chunk's delivery delay plus the request's one-way send time. Requests sent in
    the same millisecond may swap, so above 1 stream this is approximate."""
    errors: list[float] = []
    for (_, ttft, gaps), rec in zip(client, server, strict=False):
        at = ttft * 1e3
        stamps = [at]
        for g in gaps:
            at += g / 1e3
            stamps.append(at)
        errors += [c - s / 1e6 for c, s in zip(stamps, rec["t"], strict=False)]
    return {
        "paired_chunk_p50_ms": _r(percentile(errors, 50)),
        "paired_chunk_p99_ms": _r(percentile(errors, 99)),
    }


def one_repeat(tools: dict[str, Tool], levels: dict[int, int], repeat: int, timeout_s: float) -> list[Run]:
    """A fresh server, then every tool at every level (tool order reversed on odd repeats)."""
    runs: list[Run] = []
    order = list(tools) if repeat % 2 == 0 else list(reversed(tools))
    with tempfile.TemporaryDirectory(prefix="vs_peers-") as tmp:
        folder = Path(tmp)
        send_log = folder / "send.jsonl"
        server = start_sim_server(MODEL, ttft_ms=TTFT_MS, itl_ms=ITL_MS, max_num_seqs=100_000,
                                  kv_cache_tokens=10**9, send_log=str(send_log), cpus={SERVER_CPU},
                                  keepalive_timeout_s=600.0)  # fmt: skip
        try:
            for streams, measured in levels.items():
                for name in order:
                    work = folder / f"{name}-{streams}"
                    work.mkdir()
                    w = Workload(server.url, MODEL, streams, measured, streams, PROMPT, TOKENS, work)
                    run = Run(name, streams, repeat, measured, streams)
                    log(
                        f"repeat {repeat + 1}: {name} at {streams} streams ({measured} measured + {streams} warm-up)"
                    )
                    run_tool(tools[name], w, run, timeout_s)
                    log(
                        f"  {'ok' if run.ok else 'FAILED: ' + str(run.reason)} in {run.wall_s} s, CPU {run.cpu_s} s"
                    )
                    runs.append(run)
        finally:
            code = server.stop()
        if code not in (0, None):
            log(f"server exited {code}: {server.stderr_text()[-500:]}")
        records = read_send_log(send_log) if send_log.exists() else []
        for run in runs:
            judge(run, records)
    return runs


# -- summary ----------------------------------------------------------------------------------------
COLUMNS = ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms")


def spread(values: list[float | None]) -> dict[str, float] | None:
    xs = [v for v in values if v is not None]
    if not xs:
        return None
    return {"median": round(statistics.median(xs), 2), "min": round(min(xs), 2), "max": round(max(xs), 2)}


def summarize(runs: list[Run], tools: dict[str, Tool], unavailable: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    levels = sorted({r.streams for r in runs})
    for streams in levels:
        for name in [*tools, *unavailable]:
            mine = [r for r in runs if r.streams == streams and r.tool == name]
            good = [r for r in mine if r.ok]
            row: dict[str, Any] = {"streams": streams, "tool": name, "runs": len(mine), "ok_runs": len(good)}
            if name in unavailable:
                row["reason"] = unavailable[name]
                rows.append(row)
                continue
            failed = [r.reason for r in mine if not r.ok]
            if failed:
                row["reason"] = failed[0]
            for key in COLUMNS:
                row[f"err_{key}"] = spread([r.errors.get(key) for r in good])
            for key in (
                "paired_chunk_p50_ms",
                "paired_chunk_p99_ms",
                "self_lag_p99_ms",
                "self_cpu_pct",
                "self_bound",
            ):
                if any(key in r.errors for r in good):
                    row[key] = spread([r.errors.get(key) for r in good])
            row["cpu_s_per_1k"] = spread([r.cpu_s / r.measured * 1000 for r in good if r.cpu_s is not None])
            row["completed"] = spread([r.metrics.completed for r in good if r.metrics])
            row["failed"] = spread([r.metrics.failed for r in good if r.metrics])
            row["itl_kind"] = good[0].metrics.itl_kind if good and good[0].metrics else None
            row["server_late_p99_ms"] = spread([r.server.get("late_p99_ms") for r in good])
            row["server_concurrency"] = spread([r.server.get("concurrency") for r in good])
            row["tok_s"] = spread([r.server.get("tok_s") for r in good])
            rows.append(row)
    return rows


def _cell(s: dict[str, float] | None, digits: int = 1) -> str:
    if not s:
        return "—"
    mid = f"{s['median']:,.{digits}f}"
    if s["min"] == s["max"]:
        return mid
    return f"{mid} [{s['min']:,.{digits}f}, {s['max']:,.{digits}f}]"


def markdown(result: dict[str, Any]) -> str:
    labels = {name: cls.label for name, cls in TOOLS.items()}
    host = result["host"]
    lines = [
        f"# Client fidelity: quanttui vs its peers ({result['date_utc']})",
        "",
        f"Host: {host['cpu']}, {host['cores']} cores, Linux {host['kernel']}, Python {host['python']}; "
        f"load average at start {host['loadavg_start']}. Server (the simulator) pinned to CPU {SERVER_CPU}, every "
        f"tool's whole process tree to CPU {CLIENT_CPU} (sched_setaffinity before exec, inherited). Open-files "
        f"limit raised to {result['nofile']}. {result['repeats']} repeat(s), each a fresh server then every tool at "
        f"every level; wall time {result['wall_s'] / 60:.1f} min.",
        "",
        "Versions: " + ", ".join(f"{labels[k]} {v}" for k, v in result["versions"].items()) + ".",
        f"Schedule: TTFT {TTFT_MS:g} ms, ITL {ITL_MS:g} ms, {TOKENS} tokens (ignore_eos), the same prompt for every "
        "request; warm-up one request per stream for every tool (excluded), then the measured requests:",
        ", ".join(f"{s} streams: {n}" for s, n in result["levels"].items()) + ".",
        "",
        "Error = the tool's percentile − the same percentile of the server's own send times over the requests "
        "it measured (TTFT: first token-chunk write − request received; ITL: gaps between token-chunk writes). "
        "Cells: median over repeats [min, max]. CPU: user+system seconds of the tool's whole process tree "
        "(getrusage RUSAGE_CHILDREN around the run, startup included) per 1,000 measured requests. Streams the "
        "server saw: mean requests in flight at the server over the measured ones (a tool that cannot keep "
        "its streams busy loads the server less).",
        "",
        "| streams | tool | TTFT p50 err | TTFT p99 err | ITL p50 err | ITL p99 err | client CPU s / 1k req "
        "| completed / failed | streams the server saw |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        tool = labels.get(row["tool"], row["tool"])
        if row.get("ok_runs", 0) == 0:
            lines.append(f"| {row['streams']} | {tool} | failed: {row.get('reason', '?')} | | | | | | |")
            continue
        mark = " †" if row.get("itl_kind") == "per-request mean" else ""
        cells = [_cell(row[f"err_{k}"]) + " ms" if row[f"err_{k}"] else "—" for k in COLUMNS]
        cells[2] += mark
        cells[3] += mark
        done = f"{_cell(row['completed'], 0)} / {_cell(row['failed'], 0)}"
        if row["ok_runs"] < row["runs"]:
            done += f" ({row['runs'] - row['ok_runs']} run(s) failed: {row.get('reason')})"
        lines.append(
            f"| {row['streams']} | {tool} | "
            + " | ".join(cells)
            + f" | {_cell(row['cpu_s_per_1k'])} | {done} | {_cell(row['server_concurrency'], 0)} |"
        )
    lines += [
        "",
        "† GuideLLM reports ITL only as a per-request mean; its ITL percentiles are over request means.",
        "",
    ]
    checked = [r for r in result["rows"] if r.get("self_lag_p99_ms")]
    if checked:
        lines.append("")
        lines.append("quanttui's own client check of each run (sweep.csv: the load worker's event-loop lag p99 and CPU, "
                     "and the share of repeats it marked client-bound): "  # fmt: skip
                     + "; ".join(f"{labels.get(r['tool'], r['tool'])} at {r['streams']} streams: lag p99 {_cell(r['self_lag_p99_ms'])} ms, CPU "
                                 f"{_cell(r['self_cpu_pct'], 0)} %, client-bound {_cell(r.get('self_bound'), 1)}"
                                 for r in checked) + ".")  # fmt: skip
    paired_rows = [r for r in result["rows"] if r.get("paired_chunk_p50_ms")]
    if paired_rows:
        lines.append("quanttui per-chunk paired error (client stamp − server write, plus the request's send time; "
                     "requests matched by order, exact at 1 stream): "  # fmt: skip
                     + "; ".join(f"{labels.get(r['tool'], r['tool'])} at {r['streams']} streams p50 {_cell(r['paired_chunk_p50_ms'], 2)} ms, "
                                 f"p99 {_cell(r['paired_chunk_p99_ms'], 2)} ms" for r in paired_rows) + ".")  # fmt: skip
        lines.append("")
    lines += ["Server truth and lateness (median over tools and repeats):", "",
              "| streams | TTFT p50 / p99 | ITL p50 / p99 | token write − schedule p50 / p99 |", "|---:|---:|---:|---:|"]  # fmt: skip
    for streams, s in result["server"].items():
        lines.append(f"| {streams} | {s['ttft_p50_ms']} / {s['ttft_p99_ms']} ms | {s['itl_p50_ms']} / {s['itl_p99_ms']} ms "
                     f"| {s['late_p50_ms']} / {s['late_p99_ms']} ms |")  # fmt: skip
    lines += ["", "Quirks, per tool:", ""]
    lines += [f"- {labels[name]}: {QUIRKS[name]}" for name in result["versions"] if name in QUIRKS]
    lines += [f"- {labels.get(name, name)}: not run: {why}" for name, why in result["unavailable"].items()]
    return "\n".join(lines) + "\n"


def ceiling_markdown(result: dict[str, Any]) -> str:
    """The client's ceiling: what each client sustained and how right its timings stayed."""
    labels = {name: cls.label for name, cls in TOOLS.items()}
    host = result["host"]
    ideal_per_stream = TOKENS / ((TTFT_MS + (TOKENS - 1) * ITL_MS) / 1000.0)
    lines = [
        f"# The client's ceiling: streams, load processes and the box ({result['date_utc']})",
        "",
        f"Host: {host['cpu']}, {host['cores']} cores; load average at start {host['loadavg_start']}. The server "
        f"(the simulator) on CPU {SERVER_CPU}, every client's whole process tree on CPU {CLIENT_CPU}, as in "
        f"vs_peers.md; {result['repeats']} repeat(s), a fresh server each; wall time {result['wall_s'] / 60:.1f} min. "
        f"Schedule: TTFT {TTFT_MS:g} ms, ITL {ITL_MS:g} ms, {TOKENS} tokens, one token per chunk, so chunks/s = tok/s.",
        "",
        "tok/s: token chunks the server wrote per second over the requests each client measured (first receipt to "
        "last byte, so a step's ragged ends count against every client alike); streams kept: mean requests in "
        "flight at the server over them, against the streams asked for (a client that cannot send fast enough "
        f"keeps fewer busy). At {ideal_per_stream:.1f} tok/s per busy stream nothing is late. Errors as in vs_peers.md "
        "(the client's percentile − the server's own over the same requests). Cells: median [min, max] over "
        "repeats.",
        "",
        "| streams | client | tok/s (= chunks/s) | streams kept | TTFT p50 / p99 err ms | ITL p50 / p99 err ms "
        "| CPU s / 1k req | server write late p99 ms | client-bound |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        tool = labels.get(row["tool"], row["tool"])
        if row.get("ok_runs", 0) == 0:
            lines.append(f"| {row['streams']} | {tool} | failed: {row.get('reason', '?')} | | | | | | |")
            continue
        tok = row.get("tok_s")
        share = _cell(row["server_concurrency"], 0)
        errs = [_cell(row[f"err_{k}"]) if row[f"err_{k}"] else "—" for k in COLUMNS]
        bound = _cell(row.get("self_bound"), 1) if row.get("self_bound") else "—"
        lines.append(
            f"| {row['streams']} | {tool} | {_cell(tok, 0)} | {share} | {errs[0]} / {errs[1]} | {errs[2]} / {errs[3]} "
            f"| {_cell(row['cpu_s_per_1k'])} | {_cell(row['server_late_p99_ms'])} | {bound} |"
        )
    lines += ["", "Clients:", ""]
    lines += [f"- {labels[name]}: {QUIRKS[name]}" for name in result["versions"] if name in QUIRKS]
    lines += [f"- {labels.get(name, name)}: not run: {why}" for name, why in result["unavailable"].items()]
    return "\n".join(lines) + "\n"


def server_summary(runs: list[Run]) -> dict[int, dict[str, float | None]]:
    out: dict[int, dict[str, float | None]] = {}
    for streams in sorted({r.streams for r in runs}):
        mine = [r.server for r in runs if r.streams == streams and r.server.get("requests")]
        keys = ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms", "late_p50_ms", "late_p99_ms")
        out[streams] = {
            k: _r(statistics.median(vals)) if (vals := [m[k] for m in mine if m.get(k) is not None]) else None
            for k in keys
        }
    return out


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few requests, levels 1 and 64")
    parser.add_argument("--tools", default=",".join(PEERS), help="comma list of " + ", ".join(TOOLS))
    parser.add_argument("--levels", help="comma list of stream counts (default 1,64,256,1024; quick 1,64)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per tool run before it is killed"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--ceiling", action="store_true",
        help="the client's ceiling: quanttui with 1, 2, 4 load workers and the peers at 256, 512, 1,024 streams",
    )  # fmt: skip
    args = parser.parse_args()
    table = QUICK_REQUESTS if args.quick else CEILING_REQUESTS if args.ceiling else FULL_REQUESTS
    if args.ceiling and args.tools == ",".join(PEERS):
        args.tools = ",".join(CEILING)
    streams = [int(s) for s in args.levels.split(",")] if args.levels else list(table)
    levels = {s: table.get(s, 4 * s) for s in streams}
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    if unknown := [n for n in names if n not in TOOLS]:
        parser.error(f"unknown tools: {', '.join(unknown)} (choose from {', '.join(TOOLS)})")
    if (os.cpu_count() or 1) < 2:
        parser.error("needs 2 cores: the server on one, the tools on the other")
    os.sched_setaffinity(0, {SERVER_CPU})  # this process mostly waits; keep it off the tools' core
    nofile = raise_nofile()
    wall0 = time.monotonic()
    load = os.getloadavg()
    tools: dict[str, Tool] = {}
    versions: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for name in names:
        tool = TOOLS[name]()
        try:
            versions[name] = tool.prepare(log)
            tools[name] = tool
        except (ToolUnavailable, OSError, subprocess.SubprocessError) as exc:
            unavailable[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log(f"{name} unavailable: {unavailable[name]}")
    runs: list[Run] = []
    if tools:
        for repeat in range(args.repeats):
            runs += one_repeat(tools, levels, repeat, args.timeout)
    result = {
        "bench": "vs_peers",
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "host": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "loadavg_start": [round(x, 2) for x in load],
        },
        "pinning": {"server_cpu": SERVER_CPU, "tools_cpu": CLIENT_CPU},
        "nofile": nofile,
        "schedule": {"ttft_ms": TTFT_MS, "itl_ms": ITL_MS, "tokens": TOKENS, "prompt": PROMPT},
        "levels": levels,
        "repeats": args.repeats,
        "versions": versions,
        "unavailable": unavailable,
        "wall_s": round(time.monotonic() - wall0, 1),
        "rows": summarize(runs, tools, unavailable),
        "server": server_summary(runs),
        "runs": [_run_json(r) for r in runs],
    }
    result["ceiling"] = args.ceiling
    stem = "vs_peers_quick" if args.quick else "vs_peers_ceiling" if args.ceiling else "vs_peers"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(ceiling_markdown(result) if args.ceiling else markdown(result))
    print((args.out / f"{stem}.md").read_text())
    return 0


def _run_json(run: Run) -> dict[str, Any]:
    data = asdict(run)
    data.pop("window_ns")
    if data["metrics"] is not None:
        data["metrics"].pop("requests")
    return data


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    raise SystemExit(main())
