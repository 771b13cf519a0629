"""Start-up log reading on real vLLM 0.32 logs and on the older two-line wording."""

from pathlib import Path

import pytest

from quanttui.core.engine_log import KvCapacity, Phase, later, merge_kv, read_line

LOGS = Path(__file__).parents[1] / "data" / "vllm-logs"


def replay(name: str) -> tuple[list[Phase], KvCapacity | None, list[str]]:
    phases: list[Phase] = [Phase.LAUNCHING]
    kv = None
    failures = []
    for line in (LOGS / name).read_text().splitlines():
        facts = read_line(line)
        if facts.phase and later(phases[-1], facts.phase):
            phases.append(facts.phase)
        if facts.kv:
            kv = merge_kv(kv, facts.kv)
        if facts.failure:
            failures.append(facts.failure)
    return phases, kv, failures


@pytest.mark.parametrize(
    "name,tokens,conc",
    [("serve-vllm-0.32.0-cpu-bf16.log", 1_048_576, 1024.0), ("serve-vllm-0.32.0-cpu-awq.log", 1536, 1.5)],
)
def test_real_start_up_logs(name, tokens, conc):
    phases, kv, failures = replay(name)
    assert phases == [
        Phase.LAUNCHING,
        Phase.STARTING,
        Phase.LOADING_WEIGHTS,
        Phase.PROFILING,
        Phase.STARTING_HTTP,
    ]
    assert kv == KvCapacity(tokens=tokens, tokens_per_request=1024, max_concurrency=conc)
    assert failures == []


def test_two_line_kv_message_of_older_vllm():
    a = read_line("INFO 05-02 10:00:01 [kv_cache_utils.py:716] GPU KV cache size: 233,456 tokens")
    b = read_line(
        "INFO 05-02 10:00:01 [kv_cache_utils.py:720] Maximum concurrency for 4,096 tokens per request: 57.00x"
    )
    assert merge_kv(a.kv, b.kv) == KvCapacity(tokens=233_456, tokens_per_request=4096, max_concurrency=57.0)


def test_timings_are_read():
    facts = read_line(
        "(Worker pid=1) INFO [gpu_model_runner.py:1] Model loading took 2.8845 GiB memory and 1.63 seconds"
    )
    assert facts.weights_gib == 2.8845 and facts.weights_seconds == 1.63
    init = read_line(
        "(EngineCore pid=1) INFO [core.py:402] init engine (profile, create kv cache, warmup model) took 0.44 s"
    )
    assert init.init_engine_seconds == 0.44


@pytest.mark.parametrize(
    "line,cause",
    [
        ("OSError: [Errno 98] Address already in use", "port in use"),
        (
            "ERROR: [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
            "port in use",
        ),
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "out of memory"),
        (
            "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`",
            "out of memory",
        ),
        (
            "ValueError: Free memory on device (3.1/15.6 GiB) on startup is less than desired GPU memory utilization (0.9, 14.0 GiB).",
            "out of memory",
        ),
        (
            "huggingface_hub.errors.HFValidationError: Repo id must be in the form 'repo_name'",
            "bad model path",
        ),
        (
            "OSError: /nope is not a local folder and is not a valid model identifier listed on the Hub",
            "bad model path",
        ),
        ("INFO 11-23 20:07:41 [entry.py:140] Starting vLLM server on http://127.0.0.1:18432", None),
    ],
)
def test_failure_causes(line, cause):
    assert read_line(line).failure == cause


def test_phases_never_go_backwards():
    assert later(Phase.STARTING, Phase.PROFILING)
    assert not later(Phase.PROFILING, Phase.LOADING_WEIGHTS)
    assert not later(Phase.FAILED, Phase.READY)


def test_real_llama_cpp_server_log():
    phases, kv, failures = [Phase.LAUNCHING], None, []
    path = (
        Path(__file__).parents[1] / "data" / "llama-cpp-logs" / "serve-llama-cpp-python-0.3.36-smol-q4_1.log"
    )
    for line in path.read_text().splitlines():
        facts = read_line(line)
        if facts.phase and later(phases[-1], facts.phase):
            phases.append(facts.phase)
        kv = merge_kv(kv, facts.kv) if facts.kv else kv
        failures += [facts.failure] if facts.failure else []
    assert phases == [
        Phase.LAUNCHING, Phase.STARTING, Phase.LOADING_WEIGHTS, Phase.PROFILING, Phase.STARTING_HTTP
    ]  # fmt: skip
    assert kv == KvCapacity(tokens=512, tokens_per_request=None, max_concurrency=1.0)
    assert failures == []
    assert read_line("ValueError: Model path does not exist: /nope/x.gguf").failure == "bad model path"
