"""Workloads end to end on simulated engines, as a script runs them (issue 19): open-loop rate
steps with a saturated variant, and prompt-length steps of exact lengths."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from quanttui.core.arrivals import Arrivals
from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import DEFAULT_PROMPTS


def quanttui(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=timeout
    )


def events(path: Path, kind: str) -> list[dict]:
    lines = path.read_text().splitlines()
    return [e for e in map(json.loads, lines[1:]) if e["type"] == kind]


def test_a_rate_ramp_finds_where_a_variant_saturates_and_replay_knows_the_schedule(tmp_path, sim_server):
    # ~0.1 s per request with 2 slots (~20 req/s) against ~0.04 s with 16 (~400 req/s): at 80 req/s
    # only the first keeps a queue that grows for as long as the step sends.
    slow = sim_server(model="qwen-bf16", ttft_ms=20, itl_ms=5, max_num_seqs=2)
    fast = sim_server(model="qwen-awq", ttft_ms=10, itl_ms=2, max_num_seqs=16)
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={slow.url}", "--endpoint", f"awq={fast.url}",
        "--rate", "5,80", "--arrivals", "poisson", "--arrival-seed", "7", "--requests-per-step", "64",
        "--max-tokens", "16", "--ignore-eos", "--slo", "e2e_p95<=20000", "--confidence", "0.8", "--out", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "step 1/2: 5 requests/s" in done.stderr and "QUEUE GROWING" in done.stderr
    summary = json.loads(done.stdout)
    bf16, awq = summary["variants"]
    assert bf16["retired"]["rule"] == "saturated" and "at 80 req/s" in bf16["retired"]["detail"]
    assert bf16["capacity"] == "holds 5 req/s, saturates at 80 req/s" and bf16["ramp"] == "rate"
    assert awq["capacity"] == "holds >= 80 req/s (limit not reached)"

    csv = pl.read_csv(out / "sweep.csv")
    assert sorted(csv["rate"].to_list()) == [5.0, 5.0, 80.0, 80.0]
    growing = {(r["variant"], r["rate"]): r["queue_growing"] for r in csv.iter_rows(named=True)}
    assert growing == {("bf16", 5.0): False, ("awq", 5.0): False, ("bf16", 80.0): True, ("awq", 80.0): False}
    assert csv["lag_p99_ms"].is_not_null().all() and (csv["input_tok_s"] > 0).all()
    assert (csv["sent_req_s"].filter(csv["rate"] == 5.0) < 8).all()  # sent at the rate, not faster

    recording = out / "recording.jsonl"
    header = json.loads(recording.read_text().splitlines()[0])
    plan = LoadPlan.from_dict(header["config"]["plan"])
    assert plan.rates == (5.0, 80.0) and plan.arrivals == Arrivals(seed=7)
    steps = {e["step"]: e for e in events(recording, "StepStarted")}
    assert [steps[s]["rate"] for s in sorted(steps)] == [5.0, 80.0]
    results = events(recording, "RequestResult")
    assert all(r["intended"] is not None for r in results)
    for step, started in steps.items():  # the recorded plan rebuilds every send time of the step
        offsets = plan.arrivals.offsets(started["rate"], 1000, step)
        for variant in ("bf16", "awq"):
            mine = sorted(
                (r for r in results if r["step"] == step and r["variant"] == variant),
                key=lambda r: r["index"],
            )
            first = mine[0]["intended"] - offsets[mine[0]["index"]]
            assert all(abs(r["intended"] - first - offsets[r["index"]]) < 1e-6 for r in mine)

    report = quanttui("report", str(recording), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    capacity = (tmp_path / "report" / "capacity.md").read_text()
    assert "saturated at 80 req/s" in capacity and "GROWING" in capacity and "holds (req/s)" in capacity
    per_level = pl.read_csv(tmp_path / "report" / "concurrency_sweep.csv")
    assert per_level.columns[0] == "rate_req_s" and per_level["bf16_queue_growing"].to_list() == [False, True]


def test_prompt_length_steps_send_prompts_of_exactly_that_many_tokens(tmp_path, sim_server):
    slow = sim_server(model="qwen-bf16", ttft_ms=20, itl_ms=2, tokenize="words")
    fast = sim_server(model="qwen-awq", ttft_ms=10, itl_ms=1, tokenize="words")
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={slow.url}", "--endpoint", f"awq={fast.url}",
        "--workload", "long-prefill", "--input-lengths", "50,400", "--concurrency", "2",
        "--requests-per-step", "8", "--max-tokens", "4", "--ignore-eos", "--out", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "prompts of 400 tokens at concurrency 2" in done.stderr
    steps = {e["step"]: e["input_tokens"] for e in events(out / "recording.jsonl", "StepStarted")}
    assert sorted(steps.values()) == [50, 400]
    results = events(out / "recording.jsonl", "RequestResult")
    assert len(results) == 2 * 2 * (8 + 2)  # variants x steps x (measured + fill wave)
    for r in results:  # counted by the engine that served it, as the client counted it before sending
        assert r["ok"] and r["prompt_tokens"] == steps[r["step"]]
    csv = pl.read_csv(out / "sweep.csv")
    assert sorted(csv["input_tokens"].to_list()) == [50, 50, 400, 400]
    assert (csv["prompt_tokens"] == csv["input_tokens"] * csv["requests"]).all()


def test_a_prompt_longer_than_the_context_window_is_one_line(tmp_path, sim_server):
    server = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1, max_model_len=256, tokenize="words")
    done = quanttui(
        "sweep", "--endpoint", f"bf16={server.url}", "--workload", "long-prefill", "--input-lengths", "300",
        "--requests-per-step", "4", "--max-tokens", "4", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "exceed the model's context window (256)" in done.stderr and "Traceback" not in done.stderr


def test_the_shared_prefix_workload_puts_one_system_prompt_before_every_prompt(tmp_path, sim_server):
    server = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1, tokenize="words")
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={server.url}", "--workload", "shared-prefix", "--prefix-tokens", "120",
        "--concurrency", "2", "--requests-per-step", "8", "--max-tokens", "4", "--out", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = json.loads((out / "recording.jsonl").read_text().splitlines()[0])
    assert header["config"]["plan"]["prefix_tokens"] == 120
    results = events(out / "recording.jsonl", "RequestResult")
    texts = {p.id: p for p in DEFAULT_PROMPTS}
    assert len(results) == 8 + 2
    for r in results:  # the simulator counts words: the 120-token prefix, then the prompt's own words
        question = texts[f"default-{r['index'] % 16 + 1:02d}"].messages[0][1]
        assert r["prompt_tokens"] == 120 + len(question.split())
    assert json.loads(done.stdout)["steps"][0]["prefix_cache_hit_rate"] is None  # the simulator has no cache


def test_the_multi_turn_workload_replays_the_shipped_conversations(tmp_path, sim_server):
    server = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1)
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={server.url}", "--workload", "multi-turn", "--concurrency", "2",
        "--requests-per-step", "27", "--max-tokens", "4", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = json.loads((out / "recording.jsonl").read_text().splitlines()[0])
    assert header["config"]["prompts"] == (
        "shipped conversations, turn by turn, the recorded answers as history (12 conversations, 27 turns)"
    )
    results = events(out / "recording.jsonl", "RequestResult")
    later_turns = [r for r in results if r["index"] % 27 in (1, 2)]  # support-vpn's 2nd and 3rd turns
    assert later_turns and all(r["prompt_tokens"] > 60 for r in later_turns)  # they carry the history


def test_answer_lengths_drawn_from_a_distribution_are_exactly_that_long(tmp_path, sim_server):
    server = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1)
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={server.url}", "--concurrency", "2", "--requests-per-step", "12",
        "--max-tokens", "64", "--output-tokens", "uniform:2-30", "--length-seed", "5", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = json.loads((out / "recording.jsonl").read_text().splitlines()[0])
    plan = LoadPlan.from_dict(header["config"]["plan"])
    assert plan.output_lengths is not None and plan.output_lengths.seed == 5
    results = events(out / "recording.jsonl", "RequestResult")
    assert len({r["output_tokens"] for r in results}) > 3
    for r in results:  # the recorded plan says each request's length; the engine generated exactly that
        assert r["output_tokens"] == plan.output_lengths.draw(r["step"], r["index"])


def test_synthetic_prompts_follow_an_input_length_distribution_exactly(tmp_path, sim_server):
    server = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1, tokenize="words")
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={server.url}", "--rate", "20", "--requests-per-step", "30",
        "--input-tokens", "uniform:20-60", "--output-tokens", "3", "--length-seed", "9", "--max-tokens", "8",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = LoadPlan.from_dict(
        json.loads((out / "recording.jsonl").read_text().splitlines()[0])["config"]["plan"]
    )
    results = events(out / "recording.jsonl", "RequestResult")
    assert len({r["prompt_tokens"] for r in results}) > 10
    for r in results:  # the length drawn for its place in the step, as the engine counted it
        assert r["prompt_tokens"] == plan.prompt_lengths.draw(-1, r["index"]) and r["output_tokens"] == 3


def test_exact_lengths_are_counted_on_a_variant_that_has_tokenize(tmp_path, sim_server):
    without = sim_server(model="gguf", ttft_ms=5, itl_ms=1)  # no /tokenize, as llama.cpp's servers
    with_it = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1, tokenize="words")
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"gguf={without.url}", "--endpoint", f"bf16={with_it.url}",
        "--workload", "long-prefill", "--input-lengths", "40", "--requests-per-step", "4",
        "--max-tokens", "2", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = events(out / "recording.jsonl", "RequestResult")
    assert {r["variant"] for r in results} == {"gguf", "bf16"} and all(
        r["prompt_tokens"] == 40 for r in results
    )
    alone = quanttui(
        "sweep", "--endpoint", f"gguf={without.url}", "--workload", "long-prefill", "--input-lengths", "40",
        "--requests-per-step", "4", "--max-tokens", "2", "--out", str(tmp_path / "alone"),
    )  # fmt: skip
    assert alone.returncode == 2 and "no variant answers vLLM's /tokenize" in alone.stderr
    assert "Traceback" not in alone.stderr
