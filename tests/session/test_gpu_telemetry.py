"""A sweep against attached endpoints with GPU telemetry from a DCGM exporter (a real HTTP server
serving DCGM exporter's format): each variant's GPU memory comes from the GPUs the map gives it,
is recorded, replays the same, reaches the report; an exporter that is down is said and the run
goes on; bad telemetry flags are one line."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from dcgm_exporter import DcgmExporter
from prometheus_server import PROMETHEUS, PrometheusServer


def quanttui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=180
    )


@pytest.fixture
def exporter():
    running = DcgmExporter().start()
    yield running
    running.stop()


def sweep(tmp_path: Path, slow, fast, *extra: str) -> subprocess.CompletedProcess:
    return quanttui(
        "sweep", "--endpoint", f"bf16={slow.url}", "--endpoint", f"awq={fast.url}", "--concurrency", "1,2",
        "--requests-per-step", "8", "--max-tokens", "24", "--ignore-eos", "--scrape-interval", "0.2",
        "--out", str(tmp_path / "out"), "--json", *extra,
    )  # fmt: skip


def test_gpu_memory_of_attached_variants_comes_from_the_exporter(tmp_path, sim_server, exporter):
    slow = sim_server(model="qwen-bf16", ttft_ms=60, itl_ms=40, max_num_seqs=2)
    fast = sim_server(model="qwen-awq", ttft_ms=30, itl_ms=30, max_num_seqs=4)
    done = sweep(tmp_path, slow, fast, "--gpu-metrics", f"gpu-a={exporter.url}",
                 "--gpu-map", "awq=pod~awq-.*", "--gpu-map", "bf16=gpu-a:1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["gpu"]["available"] is True and summary["gpu"]["names"] == ["NVIDIA L4"]
    csv = pl.read_csv(tmp_path / "out" / "sweep.csv")
    peaks = {row["variant"]: row["gpu_mem_peak_mib"] for row in csv.iter_rows(named=True)}
    assert peaks == {"awq": 9000.0, "bf16": 15000.0}  # each variant its own GPU, not the host's total
    recording = tmp_path / "out" / "recording.jsonl"
    lines = recording.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["config"]["gpu_metrics"] == {"gpu-a": exporter.url}
    assert header["config"]["gpu_map"] == ["awq=pod~awq-.*", "bf16=gpu-a:1"]
    samples = [json.loads(line) for line in lines[1:] if '"GpuSample"' in line]
    assert samples and {(s["source"], s["host"], s["index"], s["variant"]) for s in samples} == {
        ("dcgm", "gpu-a", 0, "awq"), ("dcgm", "gpu-a", 1, "bf16")}  # fmt: skip
    assert dict(map(tuple, samples[0]["labels"]))["Hostname"] == "gpu-node-a"
    replayed = quanttui("replay", str(recording), "--headless", "--json")
    assert replayed.returncode == 0 and json.loads(replayed.stdout) == summary
    report = quanttui("report", str(recording), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Memory per variant: GPU memory" in page


def test_an_exporter_that_is_down_is_said_and_the_run_goes_on(tmp_path, sim_server, free_port):
    slow = sim_server(model="qwen-bf16", ttft_ms=40, itl_ms=10)
    fast = sim_server(model="qwen-awq", ttft_ms=20, itl_ms=5)
    url = f"http://127.0.0.1:{free_port}"
    done = sweep(tmp_path, slow, fast, "--gpu-metrics", f"gpu-b={url}")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sweep"]["reason"] == "completed" and summary["gpu"]["available"] is False
    assert f"DCGM exporter gpu-b ({url}/metrics): unreachable" in summary["gpu"]["reason"]


@pytest.mark.parametrize(
    ("flags", "words"),
    [(["--gpu-metrics", "gpu-a=10.0.0.5:9400"], "--gpu-metrics gpu-a: '10.0.0.5:9400' is not an http:// or https:// URL"),
     (["--gpu-metrics", "a b=http://x:9400"], "'a b' is not a host name"),
     (["--prometheus-selector", 'pod="x"'], "--prometheus-selector: needs --prometheus URL"),
     (["--prometheus", "http://127.0.0.1:9", "--prometheus-engine", "awq=}"], "is not a list of label matchers"),
     (["--gpu-map", "awq=gpu-a:0"], "--gpu-map needs --gpu-metrics HOST=URL or --prometheus"),
     (["--gpu-metrics", "gpu-a=http://127.0.0.1:9", "--gpu-map", "awq=gpu-z:0"], "no exporter named 'gpu-z'"),
     (["--gpu-metrics", "gpu-a=http://127.0.0.1:9", "--gpu-map", "int8=gpu-a:0"], "no variant named 'int8'"),
     (["--gpu-metrics", "gpu-a=http://127.0.0.1:9", "--gpu-map", "awq=pod~[x"], "is not a regular expression")],
)  # fmt: skip
def test_bad_telemetry_flags_are_one_line(tmp_path, flags, words):
    done = sweep(tmp_path, *(type("S", (), {"url": "http://127.0.0.1:9"})(),) * 2, *flags)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (apt-get install -y prometheus)")
def test_gpu_memory_through_a_real_prometheus(tmp_path, sim_server, exporter):
    server = PrometheusServer(tmp_path / "prometheus", [exporter.url.removeprefix("http://")])
    try:
        server.wait_for("DCGM_FI_DEV_FB_USED")
        slow = sim_server(model="qwen-bf16", ttft_ms=60, itl_ms=40, max_num_seqs=2)
        fast = sim_server(model="qwen-awq", ttft_ms=30, itl_ms=30, max_num_seqs=4)
        done = sweep(tmp_path, slow, fast, "--prometheus", server.url, "--prometheus-selector", 'namespace="serving"',
                     "--gpu-map", "awq=gpu-node-a:0", "--gpu-map", "bf16=pod~bf16-.*")  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    csv = pl.read_csv(tmp_path / "out" / "sweep.csv")
    assert {row["variant"]: row["gpu_mem_peak_mib"] for row in csv.iter_rows(named=True)} == {
        "awq": 9000.0, "bf16": 15000.0}  # fmt: skip
    header = json.loads((tmp_path / "out" / "recording.jsonl").read_text().splitlines()[0])
    assert header["config"]["prometheus"] == server.url


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (apt-get install -y prometheus)")
def test_engine_series_through_prometheus_give_the_panels_and_the_csv(tmp_path, sim_server):
    slow = sim_server(model="qwen-bf16", ttft_ms=60, itl_ms=40, max_num_seqs=2)
    fast = sim_server(model="qwen-awq", ttft_ms=30, itl_ms=30, max_num_seqs=4)
    hostport = {
        name: s.url.removeprefix("http://").split("/")[0] for name, s in (("bf16", slow), ("awq", fast))
    }
    server = PrometheusServer(tmp_path / "prometheus", {name: [hp] for name, hp in hostport.items()}, "500ms")
    try:
        server.wait_for('vllm:num_requests_running{job="awq"}')
        done = sweep(tmp_path, slow, fast, "--prometheus", server.url,
                     "--prometheus-engine", 'bf16=job="bf16"', "--prometheus-engine", 'awq=job="awq"')  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    csv = pl.read_csv(tmp_path / "out" / "sweep.csv")
    bf16 = csv.filter(pl.col("variant") == "bf16").sort("conc")
    assert bf16["kv_cache_peak"].max() > 0 and bf16["running_peak"].max() >= 1  # read through Prometheus
    lines = (tmp_path / "out" / "recording.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert header["config"]["prometheus_engines"] == {"bf16": 'job="bf16"', "awq": 'job="awq"'}
    generated = [
        json.loads(x)["generation_tokens_total"] for x in lines[1:] if '"EngineSample"' in x and '"awq"' in x
    ]
    assert generated and max(g for g in generated if g is not None) > 0
    refused = sweep(tmp_path / "again", slow, fast, "--prometheus-engine", 'awq=job="awq"')
    assert refused.returncode == 2 and "--prometheus-engine needs --prometheus URL" in refused.stderr
