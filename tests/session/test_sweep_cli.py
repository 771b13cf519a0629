"""`quanttui sweep` and `quanttui replay --headless` end to end, as a script would run them."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from waiting import wait_until

from quanttui.core.recording import SCHEMA_VERSION
from quanttui.io.export import SWEEP_COLUMNS


def quanttui(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def two_endpoints(sim_server):
    fast = sim_server(model="qwen-awq", ttft_ms=30, itl_ms=5, max_num_seqs=4, load_factor=0.05)
    slow = sim_server(model="qwen-bf16", ttft_ms=60, itl_ms=10, max_num_seqs=2, load_factor=0.2)
    return slow, fast


def run_sweep(
    tmp_path: Path, slow, fast, *extra: str, env=None, adaptive=False
) -> subprocess.CompletedProcess:
    return quanttui(
        "sweep",
        "--endpoint", f"bf16={slow.url}",
        "--endpoint", f"awq={fast.url}/v1",
        "--concurrency", "1,2,4",
        *(() if adaptive else ("--requests-per-step", "6", "--warmup-requests", "1")),
        "--max-tokens", "16",
        "--ignore-eos",
        "--scrape-interval", "0.2",
        "--out", str(tmp_path / "out"),
        "--json",
        *extra,
        env=env,
    )  # fmt: skip


def test_sweep_writes_csv_recording_and_summary_and_replay_reproduces_it(tmp_path, two_endpoints):
    slow, fast = two_endpoints
    done = run_sweep(tmp_path, slow, fast)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # stdout is exactly one JSON object
    assert [v["name"] for v in summary["variants"]] == ["bf16", "awq"]
    assert {v["precision"] for v in summary["variants"]} == {"bf16", "awq"}
    assert summary["variants"][1]["model"] == "qwen-awq"
    assert summary["sweep"]["reason"] == "completed"
    assert summary["gpu"]["available"] is False  # this machine has no GPU; the run carried on
    assert "step 1/3" in done.stderr  # progress goes to stderr

    csv = pl.read_csv(tmp_path / "out" / "sweep.csv")
    assert list(csv.columns[: len(SWEEP_COLUMNS)]) == list(SWEEP_COLUMNS)
    assert csv.height == 6  # 2 variants x 3 steps
    # warm-up excluded; a step measures at least 4 x concurrency: 6, 8 and 16
    assert csv["requests"].to_list() == [6, 6, 8, 8, 16, 16]
    assert (csv["warmup"] == csv["conc"] + 1).all()  # the configured warm-up and the fill wave
    assert csv["errors"].sum() == 0
    awq = csv.filter(pl.col("variant") == "awq").sort("conc")
    bf16 = csv.filter(pl.col("variant") == "bf16").sort("conc")
    assert (awq["tok_s"] > bf16["tok_s"]).all()
    # The server's own counters and queue reach the CSV through /metrics.
    assert bf16["kv_cache_peak"].max() > 0
    assert bf16.filter(pl.col("conc") == 4)["waiting_peak"][0] > 0
    # TTFT at concurrency 1 is the server's 60 ms plus the machine's noise (fidelity is bench/'s job).
    assert 55 <= bf16.filter(pl.col("conc") == 1)["ttft_p50_ms"][0] < 400

    recording = tmp_path / "out" / "recording.jsonl"
    header = json.loads(recording.read_text().splitlines()[0])
    assert header["format"] == "quanttui-recording" and header["schema"] == SCHEMA_VERSION == 9
    assert header["config"]["plan"]["concurrencies"] == [1, 2, 4]
    # The requests ran in a load worker process, whose self-check is on the recording.
    events = [json.loads(line) for line in recording.read_text().splitlines()[1:]]
    assert {e["source"] for e in events if e["type"] == "ClientSample"} == {"load worker 1"}
    assert "load client: 1 load worker process" in done.stderr
    assert {"client_lag_p99_ms", "client_cpu_pct", "client_bound", "usage_chunk_mismatch"} <= set(csv.columns)
    assert csv["usage_chunk_mismatch"].sum() == 0  # the simulator sends one chunk per token
    assert "hostname" in header["host"]

    replayed = quanttui("replay", str(recording), "--headless", "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout) == summary


def test_slo_retires_the_slow_variant_and_the_other_goes_on(tmp_path, sim_server):
    # bf16 (2 slots): p95 ~0.35 s at c=1, ~0.4 s at c=2, ~0.8 s at c=4 (half the requests wait a whole
    # answer); the SLO 0.6 s; awq stays near 0.1 s up to c=8 (4 slots). Adaptive steps capped at 96
    # requests at 80 % confidence: "meets" needs nearly all 96 within the SLO, so a busy machine that
    # holds requests back may leave a bf16 step undecided, never wrongly decided.
    fast = sim_server(model="qwen-awq", ttft_ms=30, itl_ms=4, max_num_seqs=4, load_factor=0.05)
    slow = sim_server(model="qwen-bf16", ttft_ms=100, itl_ms=16, max_num_seqs=2, load_factor=0.2)
    done = run_sweep(
        tmp_path, slow, fast, "--slo-p95-ms", "600", "--concurrency", "1,2,4,8", "--confidence", "0.8",
        "--max-step-requests", "96", adaptive=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    by_name = {v["name"]: v for v in summary["variants"]}
    bf16, awq = by_name["bf16"], by_name["awq"]
    assert bf16["retired"]["rule"] == "slo" and "at concurrency 4" in bf16["retired"]["detail"]
    assert bf16["steps_run"] == 3  # 1, 2, 4: no step at 8
    assert bf16["capacity"] in ("holds 2, breaches at 4", "holds 1, undecided at 2") or bf16[
        "capacity"
    ].startswith(("holds 1, undecided at 2", "holds none, undecided at 1"))
    assert awq["retired"] is None and awq["steps_run"] == 4
    assert awq["max_conc_meeting_slo"] in (8, None) and awq["capacity_status"] in ("not reached", "undecided")
    rows = [r for r in summary["steps"] if r["variant"] == "bf16"]
    at4 = next(r for r in rows if r["conc"] == 4)
    assert at4["slo_decision"] == "breaches" and at4["requests"] >= 16  # decided early, but never below 4 x c
    assert all(r["requests"] <= 96 + 1 for r in rows) and all(r["tail"] >= 0 for r in rows)


def test_request_errors_are_data_and_the_api_key_is_never_written(tmp_path, sim_server):
    env = {"QT_SWEEP_KEY": "sk-do-not-leak-42"}
    os.environ["QT_SWEEP_KEY"] = env["QT_SWEEP_KEY"]
    try:
        guarded = sim_server(model="m", ttft_ms=5, itl_ms=2, api_key_env="QT_SWEEP_KEY")
    finally:
        del os.environ["QT_SWEEP_KEY"]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "fine"}\n{"prompt": "boom [[fault:http_500]]"}\n')
    done = quanttui(
        "sweep", "--endpoint", f"a={guarded.url}", "--api-key-env", "QT_SWEEP_KEY", "--concurrency", "2",
        "--requests-per-step", "4", "--max-tokens", "4", "--prompts", str(prompts), "--out", str(tmp_path / "o"),
        "--json", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)["steps"][0]
    # 4 asked, 8 measured (4 x concurrency 2): every other prompt fails
    assert row["requests"] == 8 and row["errors"] == 4 and row["errors_by_class"] == {"http_status": 4}
    for path in (tmp_path / "o").iterdir():
        assert "sk-do-not-leak-42" not in path.read_text()
    assert "sk-do-not-leak-42" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--endpoint", "a", "--concurrency", "1", "--requests-per-step", "1"], "expected NAME=VALUE"),
        (["--endpoint", "a=http://x", "--concurrency", "1,x", "--requests-per-step", "1"], "--concurrency"),
        (["--endpoint", "a=http://x", "--concurrency", "0", "--requests-per-step", "1"], "concurrency"),
        (["--endpoint", "a=ftp://x", "--concurrency", "1", "--requests-per-step", "1"], "http://"),
        (
            ["--endpoint", "a=http://x", "--model", "b=m", "--concurrency", "1", "--step-seconds", "1"],
            "no --endpoint named",
        ),
        (
            ["--endpoint", "a=http://x", "--concurrency", "1", "--slo", "e2e_p95<3000"],
            "--slo: 'e2e_p95<3000'",
        ),
        (["--endpoint", "a=http://x", "--concurrency", "1", "--trials", "0"], "trials must be >= 1"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, needle):
    done = quanttui("sweep", *args, "--max-tokens", "4", "--out", str(tmp_path))
    assert done.returncode == 2
    assert needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_unreachable_endpoint_at_start_exits_2(tmp_path, free_port, sim_server):
    ok = sim_server(model="m")
    done = quanttui(
        "sweep", "--endpoint", f"up={ok.url}", "--endpoint", f"down=http://127.0.0.1:{free_port}",
        "--concurrency", "1", "--requests-per-step", "1", "--max-tokens", "4", "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2
    assert "unreachable" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "recording.jsonl").exists()


def test_bad_prompt_file_names_file_line_and_field(tmp_path, sim_server):
    ok = sim_server(model="m")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "ok"}\n{"messages": [{"role": "robot", "content": "x"}]}\n')
    done = quanttui(
        "sweep", "--endpoint", f"a={ok.url}", "--concurrency", "1", "--requests-per-step", "1",
        "--max-tokens", "4", "--prompts", str(prompts), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert done.returncode == 2
    assert f"{prompts}:2: field 'messages[0].role'" in done.stderr


def test_replay_of_a_future_schema_or_garbage_exits_2(tmp_path):
    future = tmp_path / "future.jsonl"
    future.write_text(
        '{"format": "quanttui-recording", "schema": 99, "quanttui": "9", "started_utc": "x", "config": {}, "host": {}}\n'
    )
    done = quanttui("replay", str(future), "--headless")
    assert done.returncode == 2 and "schema 99" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_stops_the_sweep_but_its_files_are_written(tmp_path, sim_server, signum, code):
    slow = sim_server(model="m", ttft_ms=50, itl_ms=50)
    out = tmp_path / "o"
    process = subprocess.Popen(
        [sys.executable, "-m", "quanttui", "sweep", "--endpoint", f"a={slow.url}", "--concurrency", "1,2",
         "--step-seconds", "30", "--max-tokens", "10", "--ignore-eos", "--out", str(out), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    recording = out / "recording.jsonl"
    wait_until(  # the first request is the fill wave (warm-up): wait for a measured one
        lambda: recording.exists() and recording.read_text().count("RequestResult") >= 2,
        timeout=60,
        what="the first measured request result in the recording",
    )
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == code, stderr
    summary = json.loads(stdout)
    assert summary["sweep"]["reason"] == "interrupted"
    assert summary["variants"][0]["requests"] >= 1
    assert (out / "sweep.csv").exists()
    last = json.loads(recording.read_text().splitlines()[-1])
    assert last["type"] == "SweepFinished" and last["reason"] == "interrupted"


def test_the_api_key_never_reaches_a_triage_a_catalog_or_a_report(tmp_path, sim_server):
    key = "sk-triage-do-not-leak-77"
    os.environ["QT_TRIAGE_KEY"] = key
    try:
        a = sim_server(model="m", ttft_ms=5, itl_ms=2, api_key_env="QT_TRIAGE_KEY")
        b = sim_server(model="m", ttft_ms=5, itl_ms=2, api_key_env="QT_TRIAGE_KEY")
    finally:
        del os.environ["QT_TRIAGE_KEY"]
    prompts = tmp_path / "set.jsonl"
    prompts.write_text(
        '{"id": "f1", "category": "factual", "prompt": "Capital of France?", "max_tokens": 8}\n'
    )
    done = quanttui("triage", "--endpoint", f"bf16={a.url}", "--endpoint", f"awq={b.url}", "--api-key-env",
                    "QT_TRIAGE_KEY", "--prompts", str(prompts), "--headless", "--out", str(tmp_path / "t"),
                    env={"QT_TRIAGE_KEY": key})  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = quanttui("report", str(tmp_path / "t" / "recording.jsonl"), "--out", str(tmp_path / "r"))
    assert report.returncode == 0, report.stderr
    written = [p for folder in ("t", "r") for p in (tmp_path / folder).rglob("*") if p.is_file()]
    assert any(p.name == "failure_catalog.md" for p in written) and any(
        p.name == "capacity.md" for p in written
    )
    for path in written:
        assert key not in path.read_text(errors="replace"), path
    assert key not in done.stdout + done.stderr + report.stdout + report.stderr


def test_a_reader_that_leaves_early_is_not_an_error():
    """`quanttui replay FILE --headless | head -1`: no traceback, exit 0."""
    recording = Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "quanttui", "replay", str(recording), "--headless"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    process.stdout.close()  # the reader is gone before the first line
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and b"Traceback" not in err


def test_load_workers_zero_keeps_the_requests_on_the_session_loop_and_bad_values_exit_2(
    tmp_path, two_endpoints
):
    slow, fast = two_endpoints
    done = run_sweep(tmp_path, slow, fast, "--load-workers", "0")
    assert done.returncode == 0, done.stderr
    assert "load client: the session's own event loop" in done.stderr
    lines = (tmp_path / "out" / "recording.jsonl").read_text().splitlines()[1:]
    assert {json.loads(x)["source"] for x in lines if '"ClientSample"' in x} == {"session"}
    for bad in ("-1", "many", "65"):
        refused = run_sweep(tmp_path, slow, fast, "--load-workers", bad)
        assert refused.returncode == 2 and "--load-workers" in refused.stderr.splitlines()[-1]
