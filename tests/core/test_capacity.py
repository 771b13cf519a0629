"""Knees, the capacity sentence, cost per 1M tokens, the roofline and the business case's choice
of variant: the report's pure parts (the files and `quanttui report` are in tests/session)."""

import pytest

from quanttui.core.capacity import VariantCapacity, blowup_knee, capacity_sentence, variant_capacity
from quanttui.core.cost import CostInputs, operating_cost, usd_per_million
from quanttui.core.loadplan import SloMetric
from quanttui.core.roofline import gauge, nvml_bandwidth_gbps, roofline
from quanttui.core.stepstats import StepStats


def row(variant, conc, p95, tok_s, ttft_p95=100.0, tpot=20.0, slo=3000.0, decision=None):
    """A step whose decision follows its p95 unless one is given (the statistics are in test_intervals)."""
    decision = decision or ("meets" if p95 <= slo else "breaches")
    return StepStats(
        variant=variant, precision=variant, step=conc, conc=conc, requests=10, ok=10, errors=0, error_rate=0.0,
        duration_s=10.0, output_tokens=1000, tok_s=tok_s, req_s=1.0, ttft_p50_ms=50.0, ttft_p95_ms=ttft_p95,
        ttft_p99_ms=None, itl_p50_ms=None, itl_p95_ms=None, itl_p99_ms=None, tpot_p50_ms=tpot, tpot_p95_ms=tpot,
        p50_ms=p95 * 0.8, p95_ms=p95, p99_ms=None, kv_cache_peak=None, running_peak=None, waiting_peak=None,
        preemptions=None, server_tok_s=None, gpu_mem_peak_mib=None, tokens_estimated=0, slo_p95_ms=slo,
        slo_metric="e2e", slo_met=p95 <= slo, slo_decision=decision, slo_percentile=95.0, slo_pct_ms=p95,
        slo_pct_ms_lo=p95 * 0.9, slo_pct_ms_hi=p95 * 1.1,
    )  # fmt: skip


def test_blowup_knee_finds_the_bend_and_only_a_clear_one():
    assert blowup_knee([(1, 500), (2, 520), (4, 560), (8, 640), (16, 2600), (32, 9000)])[0] == 8
    assert blowup_knee([(1, 100), (2, 200), (4, 400), (8, 800)])[0] is None  # linear: no bend
    assert blowup_knee([(1, 100), (2, 150)])[0] is None  # too few steps
    assert blowup_knee([(1, 900), (2, 800), (4, 700)])[0] is None  # falling


def test_variant_capacity_slo_knee_breach_and_metric():
    rows = [row("bf16", c, p, t) for c, p, t in [(1, 900, 30), (2, 1100, 55), (4, 1600, 90), (8, 4200, 110)]]
    cap = variant_capacity("bf16", rows, SloMetric.E2E, 3000.0)
    assert (cap.max_conc_meeting_slo, cap.first_conc_over_slo) == (4, 8)
    assert cap.status == "decided" and cap.holds_text() == "holds 4, breaches at 8"
    assert cap.breach == "p95 e2e 4,200 ms [3,780, 4,620] > SLO 3,000 ms at c=8"
    assert cap.tok_s_at_max_safe == 90 and cap.peak_tok_s == 110 and cap.batch1_tok_s == pytest.approx(50.0)
    never = variant_capacity("bf16", [row("bf16", 1, 4000, 10)], SloMetric.E2E, 3000.0)
    assert never.max_conc_meeting_slo is None and never.status == "never met" and never.decided


def test_an_undecided_step_breaks_the_chain_and_later_meets_do_not_count():
    rows = [row("awq", 1, 900, 30), row("awq", 2, 2900, 50, decision="undecided"), row("awq", 4, 2800, 80)]
    cap = variant_capacity("awq", rows, SloMetric.E2E, 3000.0)
    assert cap.status == "undecided" and cap.max_conc_meeting_slo == 1 and not cap.decided
    assert cap.why == "undecided at 2 (2,900 ms [2,610, 3,190] vs SLO 3,000 ms, 10 requests)"
    top = variant_capacity("awq", [row("awq", 1, 900, 30), row("awq", 2, 1000, 50)], SloMetric.E2E, 3000.0)
    assert top.status == "not reached" and top.holds_text() == "holds >= 2 (limit not reached)"


def cap(name, safe, over=None, slo=3000.0, tok=100.0, status=None):
    status = status or ("decided" if safe and over else "never met" if over else "not reached")
    return VariantCapacity(
        name, name, "e2e", slo, 4, safe, over, "", None, "", tok, tok, 1000.0, 40.0, status=status
    )


def test_capacity_sentences():
    assert capacity_sentence("RTX 2000 Ada", cap("bf16", 14, 16), cap("awq", 24, 32)) == (
        "On RTX 2000 Ada, awq sustains 1.7x more concurrent users than bf16 (24 vs 14) at p95 e2e <= 3,000 ms "
        "(95% confidence; awq breaches at 32, bf16 at 16)."
    )
    assert "2.0x fewer" in capacity_sentence("x", cap("bf16", 8, 16), cap("awq", 4, 8))
    assert "both hold 8" in capacity_sentence("x", cap("bf16", 8, 16), cap("awq", 8, 16))
    assert "only awq met" in capacity_sentence("x", cap("bf16", None, 1), cap("awq", 2, 4))
    assert "neither" in capacity_sentence("x", cap("bf16", None, 1), cap("awq", None, 1))
    busy = VariantCapacity(**{**cap("awq", 24, 32).__dict__, "busy_steps": 2})
    assert capacity_sentence("x", cap("bf16", 14, 16), busy).endswith(
        "Caveat: 2 of the steps ran on a busy host (other processes used half a core or more), so their "
        "latencies include that load."
    )


def test_the_ratio_is_stated_only_when_both_capacities_are_decided():
    not_reached = capacity_sentence("x", cap("bf16", 4, 8), cap("awq", 16))
    assert not_reached.startswith("On x, inconclusive at p95 e2e <= 3,000 ms: bf16 holds 4, breaches at 8; ")
    assert "awq holds >= 16 (limit not reached)" in not_reached and "--concurrency ...,32" in not_reached
    assert "x more" not in not_reached and "x fewer" not in not_reached
    undecided = cap("awq", 4, status="undecided")
    undecided = VariantCapacity(
        **{**undecided.__dict__, "why": "undecided at 8 (1,250 ms [1,100, 1,420] vs SLO)"}
    )
    text = capacity_sentence("x", cap("bf16", 4, 8), undecided)
    assert "awq holds 4, undecided at 8 (1,250 ms [1,100, 1,420]" in text and "--max-step-requests" in text


def test_cost_per_million_and_fleet():
    assert usd_per_million(0.36, 100.0) == pytest.approx(1.0)  # $0.36/h at 100 tok/s = 360k tok/h
    assert usd_per_million(1.0, None) is None
    ops = operating_cost(cap("awq", 8, tok=200.0), CostInputs(0.72, tokens_per_day=40e6, utilization=0.5))
    assert ops.usd_per_million == pytest.approx(1.0)
    assert ops.gpus_needed == 5  # 40e6 / (200 * 86400 * 0.5) = 4.6 -> 5
    assert ops.usd_per_day == pytest.approx(5 * 0.72 * 24) and ops.usd_per_month == pytest.approx(
        ops.usd_per_day * 30
    )
    with pytest.raises(ValueError):
        CostInputs(0.0)


def test_roofline():
    assert nvml_bandwidth_gbps(128, 8001) == pytest.approx(256.0, rel=1e-3)  # RTX 2000 Ada: 128-bit GDDR6
    r = roofline("awq", 256.0, "NVML", 1_000_000_000, 64.0)
    assert r.bound_tok_s == pytest.approx(256.0) and r.efficiency == pytest.approx(0.25)
    # The number first: a narrow column cuts the bar, not the number.
    assert gauge(r) == "25% of 256 tok/s bound [#####---------------]"
    assert "no weights size" in gauge(roofline("x", 10.0, "c", None, 5.0))


def test_with_several_quantized_variants_the_case_is_made_for_the_best_at_the_slo():
    from quanttui.core.report import ReportInputs, business_case_md, candidate

    awq, gptq, gguf = cap("awq", 8, 16, tok=37.7), cap("gptq", None, 1), cap("gguf", 8, 16, tok=31.1)
    assert candidate([awq, gptq, gguf]) is awq  # same users, more tok/s
    assert candidate([gptq, cap("gguf", 2, tok=5.0)]).variant == "gguf"  # any users beat none
    case = business_case_md(
        ReportInputs("t", "this CPU (no GPU)", [], [cap("bf16", 8, 16), gptq, gguf, awq], [])
    )
    assert case.splitlines()[2] == (
        "The case is made for awq, the quantized variant with the most concurrent users within the SLO, then "
        "the most tok/s there (gptq none, gguf 8 at 31.1 tok/s, awq 8 at 37.7 tok/s); capacity.md has every variant."
    )
    assert "Tenant density: one machine serves 8 concurrent users of awq" in case
    undecided = business_case_md(ReportInputs("t", "x", [], [cap("bf16", 8), awq], []))
    assert "inconclusive" in undecided and "Tenant density" not in undecided  # bf16's limit was not reached
    two = business_case_md(ReportInputs("t", "x", [], [cap("bf16", 8), gptq], []))
    assert "The case is made for" not in two and "gptq" in two  # two variants: nothing to choose
