"""Four variants at once: sweep, triage, report and catalog all carry every variant (issue 8's N-way part)."""

import json
import subprocess
import sys

import polars as pl

SET = '{"id": "f1", "category": "factual", "prompt": "Capital of France?", "max_tokens": 6}\n'


def quanttui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=180
    )


def test_four_variants_through_sweep_triage_report_and_catalog(tmp_path, sim_server):
    names = ("bf16", "awq", "gptq", "gguf")
    servers = {n: sim_server(n, ttft_ms=5, itl_ms=2 + i) for i, n in enumerate(names)}
    endpoints = [a for n in names for a in ("--endpoint", f"{n}={servers[n].url}")]
    sweep = quanttui("sweep", *endpoints, "--concurrency", "1,2,4", "--requests-per-step", "4", "--max-tokens", "8",
                     "--ignore-eos", "--slo-p95-ms", "1000", "--out", str(tmp_path / "s"), "--json")  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    assert [v["name"] for v in json.loads(sweep.stdout)["variants"]] == list(names)
    prompts = tmp_path / "set.jsonl"
    prompts.write_text(SET)
    triage = quanttui("triage", *endpoints, "--prompts", str(prompts), "--headless", "--out", str(tmp_path / "t"),
                      "--json")  # fmt: skip
    assert triage.returncode == 0, triage.stderr
    assert set(json.loads(triage.stdout)["variants"]) == set(names)
    markdown = (tmp_path / "t" / "failure_catalog.md").read_text()
    assert "| prompt_id | category | bf16 | awq | gptq | gguf | symptom | notes |" in markdown
    assert pl.read_csv(tmp_path / "t" / "failure_catalog.csv")["variant"].to_list() == list(names)
    report = quanttui("report", str(tmp_path / "s" / "recording.jsonl"), "--out", str(tmp_path / "r"),
                      "--triage", str(tmp_path / "t" / "recording.jsonl"), "--gpu-usd-per-hour", "1")  # fmt: skip
    assert report.returncode == 0, report.stderr
    capacity = (tmp_path / "r" / "capacity.md").read_text()
    assert all(f"| {n} | " in capacity for n in names)
    assert capacity.count("On this CPU (no GPU), ") == 3  # one sentence per variant against bf16
    frame = pl.read_csv(tmp_path / "r" / "concurrency_sweep.csv")
    output = [c for c in frame.columns if c.endswith("_tok_s") and not c.endswith("_input_tok_s")]
    assert output == [f"{n}_tok_s" for n in names]


def test_sim_demo_all_runs_four_variants_and_the_gguf_one_has_no_metrics(tmp_path):
    """`quanttui demo --all` on the simulators: four launched engines, one of which (like
    llama-cpp-python's server) has no /metrics; its rows say "no sample", not zero."""
    from quanttui.core.events import EngineSample, MetricsUnavailable
    from quanttui.io.recording_file import read_recording

    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "quanttui", "demo", "--backend", "sim", "--all", "--headless", "--json",
         "--max-step-requests", "16", "--slo", "e2e_p95<=60000", "--out", str(out)],  # short steps: 16 requests
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "simulated BF16, AWQ, GPTQ and GGUF engines" in done.stderr
    summary = json.loads(done.stdout)
    assert [v["name"] for v in summary["variants"]] == ["bf16", "awq", "gptq", "gguf"]
    rows = [r for r in summary["steps"] if r["conc"] == 1]
    peaks = {r["variant"]: r["kv_cache_peak"] for r in rows}
    assert peaks["gguf"] is None and all(peaks[v] is not None for v in ("bf16", "awq", "gptq"))
    _, events = read_recording(out / "recording.jsonl")
    reasons = {e.variant: e.reason for e in events if isinstance(e, MetricsUnavailable)}
    assert list(reasons) == ["gguf"] and reasons["gguf"].startswith("not exported by this engine (HTTP 404")
    assert "gguf" not in {e.variant for e in events if isinstance(e, EngineSample)}
