"""Several SLO bounds at once, goodput as `vllm bench serve --goodput` counts it, and adaptive
steps decided at their looks (the statistics' own coverage is in test_interval_coverage.py)."""

import pytest

from quanttui.core.decisions import look_plan
from quanttui.core.events import RequestResult, StepStarted
from quanttui.core.loadplan import LoadPlan, Slo, SloBound, SloMetric, parse_slo
from quanttui.core.stepstats import compute_step_stats, request_meets, stop_rule


def result(index, *, ttft, e2e, out=11, start=None, warmup=False):
    start = float(index) if start is None else start
    return RequestResult(
        t=start + e2e, variant="a", step=0, index=index, warmup=warmup, start=start, ok=True, ttft=ttft, e2e=e2e,
        itl_us=(int((e2e - ttft) / (out - 1) * 1e6),) * (out - 1), output_tokens=out,
    )  # fmt: skip


def started(concurrency=1, warmup=0, looks=(), alpha=0.05):
    return StepStarted(t=0.0, step=0, concurrency=concurrency, requests=None, seconds=None,
                       warmup_requests=warmup, variants=("a",), looks=looks, alpha_meets=alpha,
                       alpha_breach=alpha)  # fmt: skip


def test_parse_slo_reads_several_bounds_and_names_what_does_not_parse():
    slo = parse_slo("ttft_p95<=500,tpot_p95<=50, e2e_p99<=3000ms")
    assert (slo.metric, slo.percentile, slo.p95_ms) == (SloMetric.TTFT, 95.0, 500.0)
    assert slo.extra == (SloBound(SloMetric.TPOT, 95.0, 50.0), SloBound(SloMetric.E2E, 99.0, 3000.0))
    assert slo.describe() == "p95 ttft <= 500 ms, p95 tpot <= 50 ms, p99 e2e <= 3,000 ms"
    for bad, needle in [("e2e<=3", "'e2e<=3' is not"), ("e2e_p95<=0", "bound > 0"), ("e2e_p100<=5", "0..100"),
                        ("e2e_p95<=5,e2e_p95<=6", "given twice")]:  # fmt: skip
        with pytest.raises(ValueError, match=needle):
            parse_slo(bad)
    plan = LoadPlan(concurrencies=(1,), slo=slo)
    assert LoadPlan.from_dict(plan.to_dict()) == plan


def test_goodput_counts_requests_within_every_bound_by_hand():
    slo = parse_slo("ttft_p95<=500,tpot_p95<=50,e2e_p95<=3000")
    rows = [
        result(0, ttft=0.2, e2e=0.6, start=0.0),  # TPOT 40 ms: good
        result(1, ttft=0.6, e2e=1.0, start=0.0),  # TTFT 600 ms > 500: not good
        result(2, ttft=0.1, e2e=0.8, start=1.0),  # TPOT 70 ms > 50: not good
        result(3, ttft=0.3, e2e=0.7, start=1.0),  # TPOT 40 ms: good
        result(4, ttft=0.1, e2e=3.5, out=200, start=0.5),  # E2E 3.5 s > 3 s: not good
    ]
    assert [request_meets(r, slo) for r in rows] == [True, False, False, True, False]
    stats = compute_step_stats(
        "a", "", started(), rows, LoadPlan(concurrencies=(1,), requests_per_step=5, slo=slo)
    )
    # measured from the first start (0.0) to the last end (4.0): 4 s busy, 2 good requests
    assert stats.duration_s == pytest.approx(4.0) and stats.goodput_req_s == pytest.approx(0.5)
    assert stats.req_s == pytest.approx(5 / 4.0)
    # each further bound has its columns; the primary one is ttft here
    row = stats.row()
    assert stats.slo_metric == "ttft" and {"tpot_p95_ms", "tpot_p95_ms_lo", "tpot_p95_decision"} <= set(row)
    assert {"e2e_p95_ms", "e2e_p95_decision", "itl_p99_ms_lo", "ttft_p50_ms_hi"} <= set(row)


def test_one_bound_breached_retires_the_variant_and_is_named():
    slo = Slo(5000.0, SloMetric.E2E, extra=(SloBound(SloMetric.TTFT, 95.0, 100.0),))
    rows = [result(i, ttft=0.5, e2e=1.0) for i in range(8)]  # e2e far within, every TTFT over 100 ms
    plan = LoadPlan(concurrencies=(1,), requests_per_step=8, slo=slo)
    stats = compute_step_stats("a", "", started(), rows, plan)
    assert stats.slo_decision == "breaches" and stats.bounds["ttft_p95_decision"] == "breaches"
    rule, detail = stop_rule(stats, plan)
    assert rule == "slo" and "also breached: ttft_p95" in detail


def test_an_adaptive_step_is_measured_up_to_the_look_that_decided_it():
    plan = LoadPlan(concurrencies=(1, 2), slo=Slo(1000.0))
    looks = look_plan(plan, 1, 2)
    assert looks.looks[:3] == (4, 8, 16) and looks.looks[-1] == 512
    # a clear breach: every request takes 2 s against a 1 s SLO; the first look (4 x c) is too short
    # to measure correlation (a design effect of 2 is assumed), the second decides
    rows = [result(i, ttft=0.1, e2e=2.0, warmup=i < 1) for i in range(12)]  # index 0: the fill wave
    stats = compute_step_stats("a", "", started(1, warmup=1, looks=looks.looks, alpha=0.001), rows, plan)
    assert stats.slo_decision == "breaches" and stats.decided_at == 8
    assert (stats.requests, stats.warmup, stats.tail) == (8, 1, 3)  # 3 finished after the decision
    # all within the SLO: nothing can be decided before 128 requests at this plan's errors
    fast = [result(i, ttft=0.1, e2e=0.3, warmup=i < 1) for i in range(130)]
    running = compute_step_stats(
        "a", "", started(1, 1, looks.looks, looks.alpha_meets), fast[:100], plan, finished=False
    )
    assert running.slo_decision == "undecided" and running.decided_at is None and running.requests == 99
    done = compute_step_stats("a", "", started(1, 1, looks.looks, looks.alpha_meets), fast, plan)
    assert done.slo_decision == "meets" and done.decided_at == 128 and done.tail == 1


def test_a_missing_request_in_a_look_waits_for_it():
    """The look at n uses the first n requests in start order, once all have finished: a slow one
    still in flight is never skipped in favour of later, faster ones (that would bias low)."""
    plan = LoadPlan(concurrencies=(1,), slo=Slo(1000.0))
    rows = [result(i, ttft=0.1, e2e=2.0) for i in range(1, 9)]  # index 0 (a measured request) missing
    stats = compute_step_stats("a", "", started(1, 0, (4, 8), 0.001), rows, plan, finished=False)
    assert stats.decided_at is None and stats.slo_decision == "undecided"
