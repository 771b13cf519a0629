"""Fleets end to end (issue 21): two variants of two simulated replicas each, GPU metrics through a
real Prometheus, the load from two worker processes; the run records, replays and reports per
replica and per fleet. A replica that dies mid-step has its errors counted to it while the other
carries on; bad fleet flags are one line."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from dcgm_exporter import DcgmExporter
from prometheus_server import PROMETHEUS, PrometheusServer
from waiting import wait_until


def quanttui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=300
    )


def events(recording: Path, kind: str) -> list[dict]:
    lines = recording.read_text().splitlines()[1:] if recording.exists() else []
    return [e for e in map(json.loads, lines) if e["type"] == kind]


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (apt-get install -y prometheus)")
def test_two_fleets_record_replay_and_report_per_replica_and_per_fleet(tmp_path, sim_server):
    bf16 = [sim_server(model="qwen-bf16", ttft_ms=40, itl_ms=8, max_num_seqs=2) for _ in range(2)]
    awq = [sim_server(model="qwen-awq", ttft_ms=20, itl_ms=4, max_num_seqs=2) for _ in range(2)]
    exporter = DcgmExporter().start()
    server = PrometheusServer(tmp_path / "prometheus", [exporter.url.removeprefix("http://")])
    try:
        server.wait_for("DCGM_FI_DEV_FB_USED")
        done = quanttui(
            "sweep", "--endpoint", f"bf16={bf16[0].url},{bf16[1].url}",
            "--endpoint", f"awq={awq[0].url},{awq[1].url}", "--balance", "awq=least-outstanding",
            "--concurrency", "2,4", "--requests-per-step", "40", "--max-tokens", "16", "--ignore-eos",
            "--slo", "e2e_p95<=5000", "--load-workers", "2", "--scrape-interval", "0.2",
            "--prometheus", server.url, "--gpu-map", "awq=gpu-node-a:0", "--gpu-map", "bf16=pod~bf16-.*",
            "--out", str(tmp_path / "out"), "--json",
        )  # fmt: skip
    finally:
        server.stop()
        exporter.stop()
    assert done.returncode == 0, done.stderr
    assert "2 load worker processes" in done.stderr
    summary = json.loads(done.stdout)
    for variant in summary["variants"]:
        replicas = variant["replicas"]
        assert len(replicas) == 2 and sum(r["requests"] for r in replicas) == variant["requests"]
        assert all(r["errors"] == 0 and 0.25 <= r["share"] <= 0.75 for r in replicas), replicas
        assert {row["step"] for row in variant["replica_steps"]} == {0, 1}
    sentences = summary["verdict"]["fleet_sentences"]
    assert [s.split(" replicas")[0] for s in sentences] == ["The bf16 fleet of 2", "The awq fleet of 2"]
    assert all("per replica" in s for s in sentences), sentences
    csv = pl.read_csv(tmp_path / "out" / "sweep.csv")
    assert {row["variant"]: row["gpu_mem_peak_mib"] for row in csv.iter_rows(named=True)} == {
        "awq": 9000.0, "bf16": 15000.0}  # fmt: skip
    assert csv["running_peak"].max() > 2  # the fleet's queue: both replicas' running summed
    recording = tmp_path / "out" / "recording.jsonl"
    header = json.loads(recording.read_text().splitlines()[0])
    assert header["schema"] == 9
    assert [e.get("balance") for e in header["config"]["endpoints"]] == ["round-robin", "least-outstanding"]
    scraped = {(e["variant"], e["replica"]) for e in events(recording, "EngineSample")}
    assert scraped == {("bf16", s.url) for s in bf16} | {("awq", s.url) for s in awq}
    replayed = quanttui("replay", str(recording), "--headless", "--json")
    assert replayed.returncode == 0 and json.loads(replayed.stdout) == summary
    report = quanttui("report", str(recording), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    capacity = (tmp_path / "report" / "capacity.md").read_text()
    assert "## Fleets: per fleet and per replica" in capacity and sentences[1] in capacity
    per_replica = pl.read_csv(tmp_path / "report" / "replicas.csv")
    assert per_replica.height == 8 and set(per_replica["replica"]) == {s.url for s in bf16 + awq}
    assert "Fleets: per fleet and per replica" in (tmp_path / "report" / "report.html").read_text()


def test_a_replica_that_dies_mid_step_is_counted_and_the_other_carries_on(tmp_path, sim_server):
    keep, doomed = (sim_server(model="qwen-awq", ttft_ms=20, itl_ms=10) for _ in range(2))
    base = sim_server(model="qwen-bf16", ttft_ms=20, itl_ms=10)
    out = tmp_path / "out"
    recording = out / "recording.jsonl"
    sweep = subprocess.Popen(
        [sys.executable, "-m", "quanttui", "sweep", "--endpoint", f"bf16={base.url}",
         "--endpoint", f"awq={keep.url},{doomed.url}", "--concurrency", "2", "--requests-per-step", "160",
         "--max-tokens", "8", "--ignore-eos", "--max-error-rate", "0.9", "--out", str(out), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: len([e for e in events(recording, "RequestResult") if e["variant"] == "awq"]) >= 20,
                   60, "the step under way")  # fmt: skip
        doomed.stop()
        stdout, stderr = sweep.communicate(timeout=300)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, stderr
    results = [e for e in events(recording, "RequestResult") if e["variant"] == "awq"]
    failed = [r for r in results if not r["ok"]]
    assert failed and {r["replica"] for r in failed} == {doomed.url}  # its errors are its own
    after = results[results.index(failed[0]) :]
    assert sum(1 for r in after if r["replica"] == keep.url and r["ok"]) >= 40  # the other carried on
    out_events = events(recording, "ReplicaState")
    assert [(e["replica"], e["up"]) for e in out_events][:1] == [(doomed.url, False)]
    summary = json.loads(stdout)
    awq = next(v for v in summary["variants"] if v["name"] == "awq")
    errors = {r["url"]: r["errors"] for r in awq["replicas"]}
    assert errors[keep.url] == 0 and errors[doomed.url] == len([r for r in failed if not r["warmup"]])
    report = quanttui("report", str(recording), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    capacity = (tmp_path / "report" / "capacity.md").read_text()
    assert f"awq {doomed.url.removeprefix('http://')} out: 3 requests in a row failed" in capacity


@pytest.mark.parametrize(
    ("endpoint", "extra", "words"),
    [("awq=http://127.0.0.1:9,http://127.0.0.1:9/v1", [], "--endpoint awq: replica http://127.0.0.1:9 is given twice"),
     ("awq=http://127.0.0.1:9,", [], "--endpoint awq: an empty URL in the list"),
     ("awq=http://127.0.0.1:9,10.0.0.1:8000", [], "--endpoint awq: "),
     ("awq=http://127.0.0.1:9,http://127.0.0.1:10", ["--balance", "awq=random"],
      "--balance awq: 'random' is not one of round-robin, least-outstanding"),
     ("awq=http://127.0.0.1:9", ["--balance", "int8=round-robin"], "--balance int8=...: no --endpoint named 'int8'")],
)  # fmt: skip
def test_bad_fleet_flags_are_one_line(tmp_path, endpoint, extra, words):
    done = quanttui("sweep", "--endpoint", "bf16=http://127.0.0.1:9", "--endpoint", endpoint, "--concurrency", "1",
                    "--max-tokens", "8", "--out", str(tmp_path / "out"), *extra)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_a_fleet_whose_replicas_serve_different_models_does_not_start(tmp_path, sim_server):
    one, other = sim_server(model="qwen-awq"), sim_server(model="qwen-bf16")
    done = quanttui("sweep", "--endpoint", f"bf16={other.url}", "--endpoint", f"awq={one.url},{other.url}",
                    "--concurrency", "1", "--max-tokens", "8", "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
    assert f"awq: replica {other.url} does not serve 'qwen-awq'" in done.stderr


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (apt-get install -y prometheus)")
def test_a_session_file_drives_fleets_whose_engines_are_read_through_prometheus(tmp_path, sim_server):
    awq = [sim_server(model="qwen-awq", ttft_ms=20, itl_ms=5, kv_cache_tokens=4096) for _ in range(2)]
    bf16 = sim_server(model="qwen-bf16", ttft_ms=20, itl_ms=5, kv_cache_tokens=4096)
    hostport = {
        "awq": [s.url.removeprefix("http://") for s in awq],
        "bf16": [bf16.url.removeprefix("http://")],
    }
    server = PrometheusServer(tmp_path / "prometheus", hostport, "500ms")
    config = tmp_path / "fleet.toml"
    config.write_text(
        f'[load]\nconcurrency = [2, 4]\nrequests_per_step = 24\nmax_tokens = 8\nignore_eos = true\n\n'
        f'[variants.bf16]\nurls = ["{bf16.url}"]\n\n'
        f'[variants.awq]\nurls = ["{awq[0].url}", "{awq[1].url}"]\nbalance = "least-outstanding"\n\n'
        f'[telemetry]\nprometheus = "{server.url}"\nengines = {{ awq = \'job="awq"\', bf16 = \'job="bf16"\' }}\n'
    )  # fmt: skip
    try:
        server.wait_for('count(vllm:num_requests_running{job="awq"}) == 2')
        done = quanttui(
            "run", "--config", str(config), "--headless", "--json", "--out", str(tmp_path / "out")
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    fleet = next(v for v in summary["variants"] if v["name"] == "awq")
    assert [r["url"] for r in fleet["replicas"]] == [s.url for s in awq]
    assert "replicas" not in next(v for v in summary["variants"] if v["name"] == "bf16")
    recording = tmp_path / "out" / "recording.jsonl"
    sizes = {e["variant"]: e["kv_cache_size_tokens"] for e in events(recording, "EngineSample")}
    assert sizes == {"bf16": 4096, "awq": 8192}  # both replicas' caches, each counted once
    assert all(e["replica"] is None for e in events(recording, "EngineSample"))  # one query per fleet
