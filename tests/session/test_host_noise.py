"""A sweep on a busy box says so: HostSample events in the recording, host_busy in sweep.csv, the
summary and the progress lines, from the host sampler of a real `quanttui sweep`."""

import json
import os
import subprocess
import sys

import polars as pl
import psutil


def test_a_sweep_next_to_a_cpu_spinner_marks_its_steps_busy(tmp_path, sim_server):
    server = sim_server(model="m", ttft_ms=20, itl_ms=10)
    # pytest's child, not quanttui's: another process on the box, using a whole core when it can
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        done = subprocess.run(
            [sys.executable, "-m", "quanttui", "sweep", "--endpoint", f"a={server.url}",
             "--concurrency", "1,2", "--step-seconds", "2.5", "--max-tokens", "8", "--ignore-eos",
             "--out", str(tmp_path / "out"), "--json"],
            capture_output=True, text=True, timeout=60, env=dict(os.environ),
        )  # fmt: skip
    finally:
        spinner.kill()
        spinner.wait()
    assert done.returncode == 0, done.stderr

    out = tmp_path / "out"
    events = [json.loads(line) for line in (out / "recording.jsonl").read_text().splitlines()[1:]]
    host = [e for e in events if e["type"] == "HostSample"]
    assert len(host) >= 3, [e["type"] for e in events]  # one a second over two 2.5 s steps
    assert all(e["cores"] == psutil.cpu_count() and 0 <= e["others_cpu_pct"] <= e["cpu_pct"] for e in host)
    assert all(e["gpu_other_processes"] is None for e in host)  # no NVML here
    # the spinner's core (the box may be busier still: nothing else is asserted about the rest)
    assert max(e["others_cpu_pct"] for e in host) >= 50, host

    csv = pl.read_csv(out / "sweep.csv")
    assert csv.height == 2
    assert csv["host_busy"].to_list() == [True, True], csv
    assert (csv["host_others_cpu_pct"] >= 50).all(), csv
    summary = json.loads(done.stdout)
    assert [row["host_busy"] for row in summary["steps"]] == [True, True]
    assert summary["verdict"]["busy_steps"] == 2
    assert "BUSY HOST" in done.stderr  # the progress line of each step
