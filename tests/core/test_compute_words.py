"""compute_graphs.md from the real fixture traces: both variants' tables, top ops, and bullets
that carry their numbers or say what is missing."""

from __future__ import annotations

from pathlib import Path

from quanttui.core.compute import analyse
from quanttui.core.compute_words import ProfiledVariant, bullets, compute_markdown, gemm_per_step
from quanttui.io.torch_trace import read_trace

TRACES = Path(__file__).parents[1] / "data" / "traces"


def variant(name: str, weights: int | None = None) -> ProfiledVariant:
    trace = read_trace(TRACES / f"vllm-cpu-smol-{name}-3steps.pt.trace.json.gz")
    return ProfiledVariant(
        name, name, analyse(trace.ops, trace.steps), f"{name}.pt.trace.json.gz", weights_bytes=weights
    )


def test_the_markdown_sets_both_variants_side_by_side_with_their_numbers():
    bf16, awq = variant("bf16", 269_000_000), variant("awq", 114_000_000)
    text = compute_markdown([bf16, awq], "1 x 64 output tokens")
    assert "| category | bf16 ms/step | share | awq ms/step | share |" in text
    assert "`_C::onednn_mm`" in text and "`_C::cpu_gemm_wna16`" in text
    assert "### Decode" in text and "### Prefill" in text and "traces/awq.pt.trace.json.gz" in text
    decode = awq.profile.phase("decode")
    assert f"**{decode.step_ms_mean:.2f}**" in text
    found = bullets([bf16, awq])
    assert 3 <= len(found) <= 5
    assert found[0].startswith("Decode step: awq") and f"{decode.step_ms_mean:.1f} ms" in found[0]
    assert f"{gemm_per_step(decode):.1f} ms" in found[1]
    assert any("Weights read per step: bf16 269 MB, awq 114 MB" in b for b in found)


def test_a_claim_without_its_data_says_what_is_missing():
    found = bullets([variant("bf16"), variant("awq")])
    assert any("Weight bytes per variant unknown" in b for b in found)
    assert not any("GB/s" in b for b in found)
