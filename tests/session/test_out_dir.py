"""A run never overwrites another: an --out holding a run is refused (exit 2, one line) unless
--overwrite, which moves the old run aside; with no --out every run gets its own folder."""

import os
import subprocess
import sys
from pathlib import Path


def quanttui(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})  # fmt: skip


def sweep(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return quanttui("sweep", "--endpoint", f"a={url}", "--concurrency", "1", "--requests-per-step", "2",
                    "--max-tokens", "4", "--out", str(out), *extra)  # fmt: skip


def test_an_out_folder_holding_a_run_is_refused_then_moved_aside_with_overwrite(tmp_path, sim_server):
    server = sim_server(model="m", ttft_ms=5, itl_ms=2)
    out = tmp_path / "run"
    assert sweep(server.url, out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"recording.jsonl", "sweep.csv"} <= set(before)

    again = sweep(server.url, out)
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "already holds a run (recording.jsonl, sweep.csv)" in lines[0]
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # untouched

    forced = sweep(server.url, out, "--overwrite")
    assert forced.returncode == 0, forced.stderr
    (previous,) = out.glob("previous-*")
    assert {p.name: p.read_bytes() for p in previous.iterdir()} == before  # nothing lost
    assert (out / "recording.jsonl").read_bytes() != before["recording.jsonl"]


def test_an_out_that_is_a_file_or_cannot_be_made_is_one_line(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    for out, needle in ((a_file, "exists and is not a folder"), (a_file / "sub", "is not a folder")):
        done = sweep("http://127.0.0.1:9", out)
        assert done.returncode == 2 and needle in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert a_file.read_text() == "keep me"


def test_without_out_each_run_gets_its_own_folder_and_latest_points_at_the_newest(tmp_path, sim_server):
    a, b = sim_server(model="m", ttft_ms=5, itl_ms=2), sim_server(model="m", ttft_ms=5, itl_ms=2)
    prompts = tmp_path / "set.jsonl"
    prompts.write_text(
        '{"id": "f1", "category": "factual", "prompt": "Capital of France?", "max_tokens": 4}\n'
    )
    runs = []
    for _ in range(2):
        done = quanttui("triage", "--endpoint", f"bf16={a.url}", "--endpoint", f"awq={b.url}", "--prompts",
                        str(prompts), "--headless", cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs.append(sorted(p for p in (tmp_path / "quanttui-triage").iterdir() if p.name != "latest"))
    assert len(runs[0]) == 1 and len(runs[1]) == 2
    newest = (set(runs[1]) - set(runs[0])).pop()
    assert (tmp_path / "quanttui-triage" / "latest").resolve() == newest.resolve()
    assert all((run / "recording.jsonl").exists() for run in runs[1])
