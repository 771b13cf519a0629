"""The simulator's answer book (`--answers book`, sim/answers.py): the reference answers pass every
check of the shipped quality set, a drifting model departs from them on some prompts in the ways
quantized models go wrong and matches them on the others, the server sends them with the right
finish reason and token count, and the pacing is what it was."""

from __future__ import annotations

import statistics
from collections import Counter

import httpx
import pytest
from test_sim_server import chat, timed_stream

from quanttui.core.flags import extract_python_code, flag_output
from quanttui.core.quality_set import QualityPrompt, expand_long_context
from quanttui.demo.sim import SIM_VARIANTS
from quanttui.io.code_check import run_python_assert
from quanttui.io.quality_file import default_quality_set
from quanttui.sim.answers import answer_for, reference_answer, split_tokens
from quanttui.sim.cli import build_parser, config_from_args
from quanttui.sim.engine import SimConfig

WINDOW = SimConfig().max_model_len
FRANCE = "What is the capital of France? Answer in one sentence."


def prompts() -> list[QualityPrompt]:
    return [expand_long_context(p, WINDOW) for p in default_quality_set().prompts]


def answered(model: str, prompt: QualityPrompt, drift: float) -> tuple[str, str]:
    """(text, finish_reason) as the server sends them for the triage's max_tokens."""
    answer = answer_for(model, prompt.messages[-1][1], drift)
    if answer.eos_after <= prompt.max_tokens:
        return answer.text, "stop"
    return "".join(answer.token(i) or "" for i in range(prompt.max_tokens)), "length"


def all_flags(prompt: QualityPrompt, text: str, finish: str) -> list[str]:
    kinds = [f.kind for f in flag_output(prompt, text, finish)]
    code = extract_python_code(text).code if prompt.python_assert else None
    if code is not None and run_python_assert(code, prompt.python_assert) is not None:
        kinds.append("code_assert")
    return kinds


def test_the_reference_answers_pass_every_check_of_the_shipped_set():
    for prompt in prompts():
        answer = answer_for("demo-bf16", prompt.messages[-1][1], 0.0)
        assert answer.kind == "book", prompt.id  # the book knows every shipped prompt
        assert all_flags(prompt, *answered("demo-bf16", prompt, 0.0)) == [], prompt.id


def test_the_demo_s_quantized_variants_differ_in_realistic_ways_on_some_prompts_only():
    quality = prompts()
    kinds: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    for name, settings in SIM_VARIANTS.items():
        drift = float(settings.get("drift", 0.0))  # type: ignore[arg-type]
        assert settings["answers"] == "book"
        different = 0
        for prompt in quality:
            text, finish = answered(f"demo-{name}", prompt, drift)
            reference, _ = answered("demo-bf16", prompt, 0.0)
            if text != reference:
                different += 1
                kinds[answer_for(f"demo-{name}", prompt.messages[-1][1], drift).kind] += 1
                flags.update(all_flags(prompt, text, finish))
        if drift == 0.0:
            assert different == 0, name
        else:  # some prompts differ, most are answered word for word like the reference
            assert 3 <= different <= len(quality) // 2 + 3, (name, different)
    assert {"loop", "number", "ramble", "word", "code_logic"} <= set(kinds), kinds
    assert {"repetition", "truncated", "numeric_mismatch", "code_assert"} <= set(flags), flags


def test_answers_are_deterministic_per_model_and_prompt():
    answer_for.cache_clear()
    first = [answer_for(m, p.messages[-1][1], 0.5) for m in ("a", "b") for p in prompts()]
    answer_for.cache_clear()
    assert first == [answer_for(m, p.messages[-1][1], 0.5) for m in ("a", "b") for p in prompts()]
    assert first[:25] != first[25:]  # another model departs on other prompts
    assert reference_answer("tell me a story")[0] == reference_answer("tell me a story")[0]
    assert reference_answer("tell me a story")[1] == ""  # not in the book: a generic answer
    assert "".join(split_tokens("a  b\n  c")) == "a  b\n  c"


def model_whose(kind: str, prompt: str) -> str:
    """A model name whose (drift 1.0) answer to `prompt` is of this kind (the choice is a hash)."""
    return next(m for m in (f"m{i}" for i in range(500)) if answer_for(m, prompt, 1.0).kind == kind)


def content(response: httpx.Response) -> tuple[str, str, int]:
    body = response.json()
    choice = body["choices"][0]
    return choice["message"]["content"], choice["finish_reason"], body["usage"]["completion_tokens"]


def test_the_server_sends_the_book_s_answers_with_their_finish_reason(sim_server):
    reference = sim_server("ref", ttft_ms=1, itl_ms=1, answers="book")
    body = chat(FRANCE, stream=False, usage=False, model="ref", max_tokens=48)
    text, finish, tokens = content(httpx.post(reference.url + "/v1/chat/completions", json=body))
    assert (text, finish, tokens) == ("The capital of France is Paris.", "stop", 6)

    name = model_whose("loop", FRANCE)
    looping = sim_server(name, ttft_ms=1, itl_ms=1, answers="book", drift=1.0)
    body = chat(FRANCE, stream=False, usage=False, model=name, max_tokens=30)
    text, finish, tokens = content(httpx.post(looping.url + "/v1/chat/completions", json=body))
    assert finish == "length" and tokens == 30 and len(text.split()) == 30
    assert [f.kind for f in flag_output(default_quality_set().prompts[0], text, finish)][:2] == [
        "repetition",
        "truncated",
    ]


def test_answers_and_drift_round_trip_through_the_command_line():
    config = SimConfig(model="m", answers="book", drift=0.4)
    assert config.to_argv() == ["--model", "m", "--answers", "book", "--drift", "0.4"]
    assert config_from_args(build_parser().parse_args(config.to_argv())) == config
    for bad in (dict(answers="poems"), dict(drift=1.5)):
        with pytest.raises(ValueError):
            SimConfig(**bad)  # type: ignore[arg-type]


async def test_book_answers_keep_the_pacing(sim_server):
    """The same bounds as the word cycle's ground-truth test (test_sim_server.py): an answer is made
    once per prompt, then each token is a list lookup."""
    server = sim_server(ttft_ms=200, itl_ms=20, answers="book", drift=0.5)
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.get("/health")
        runs = [await timed_stream(client, chat(FRANCE, max_tokens=20, ignore_eos=True)) for _ in range(5)]
    assert all(usage["completion_tokens"] == len(times) == 20 for _, times, usage in runs)
    gaps = [b - a for _, times, _ in runs for a, b in zip(times, times[1:], strict=False)]
    assert 0.195 <= statistics.median(ttft for ttft, _, _ in runs) < 0.200 + 0.060
    assert statistics.median(gaps) == pytest.approx(0.020, abs=0.005)
    spans = [times[-1] - times[0] for _, times, _ in runs]
    assert statistics.median(spans) == pytest.approx(19 * 0.020, abs=0.015)
