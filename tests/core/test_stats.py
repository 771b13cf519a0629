import math
import random

import pytest

from quanttui.core.events import RequestResult, StepStarted
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric
from quanttui.core.stats import percentile
from quanttui.core.stepstats import compute_step_stats, stop_rule


def numpy_percentile(values, p):
    """Reference: numpy's default 'linear' method written out independently."""
    xs = sorted(values)
    h = (len(xs) - 1) * p / 100
    return xs[int(math.floor(h))] + (h - math.floor(h)) * (
        xs[min(int(math.floor(h)) + 1, len(xs) - 1)] - xs[int(math.floor(h))]
    )


def test_percentile_matches_linear_interpolation():
    rng = random.Random(7)
    for n in (1, 2, 3, 10, 101):
        values = [rng.uniform(0, 100) for _ in range(n)]
        for p in (0, 50, 95, 99, 100):
            assert percentile(values, p) == pytest.approx(numpy_percentile(values, p))
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5


def result(index, *, ok=True, ttft=0.2, e2e=1.0, out=41, start=0.0, warmup=False, itl=(20000,), error=None):
    return RequestResult(
        t=start + e2e, variant="a", step=0, index=index, warmup=warmup, start=start, ok=ok,
        error=error, ttft=ttft if ok else None, e2e=e2e if ok else None, itl_us=itl if ok else (),
        output_tokens=out if ok else None,
    )  # fmt: skip


def started(concurrency=1, warmup=0, step=0):
    """A fixed-length step's start as a schema-2 recording has it: one look at the end, 95 %."""
    return StepStarted(t=0.0, step=step, concurrency=concurrency, requests=None, seconds=None,
                       warmup_requests=warmup, variants=("a",))  # fmt: skip


def test_tpot_follows_vllm_definition():
    r = result(0, ttft=0.2, e2e=1.0, out=41)
    assert r.tpot == pytest.approx(0.8 / 40)
    assert result(1, out=1).tpot is None


def test_step_stats_exclude_warmup_and_count_errors_by_class():
    rows = [
        result(0, warmup=True, e2e=9.0),
        result(1, e2e=1.0, start=0.0),
        result(2, e2e=2.0, start=0.5),
        result(3, ok=False, error="http_status", start=0.6),
        result(4, ok=False, error="timeout_idle", start=0.7),
    ]
    plan = LoadPlan(concurrencies=(2,), requests_per_step=4, warmup_requests=1, slo=Slo(1500.0))
    stats = compute_step_stats("a", "bf16", started(2, warmup=1), rows, plan)
    assert stats.requests == 4 and stats.ok == 2 and stats.errors == 2
    assert stats.errors_by_class == {"http_status": 1, "timeout_idle": 1}
    assert stats.p50_ms == pytest.approx(1500.0)
    assert stats.p95_ms == pytest.approx(1950.0)
    assert stats.duration_s == pytest.approx(2.5)  # first measured start 0.0 to last end 2.5
    assert stats.tok_s == pytest.approx(82 / 2.5)
    assert stats.slo_met is False  # the point p95 is over the SLO...
    assert stats.slo_decision == "undecided"  # ...but one of two requests over it decides nothing
    assert stop_rule(stats, plan) is None  # and only a decided breach retires a variant


def test_a_decided_breach_retires_and_names_its_lower_bound():
    rows = [result(i, e2e=2.0 + i / 100, start=float(i)) for i in range(8)]
    plan = LoadPlan(concurrencies=(1,), requests_per_step=8, slo=Slo(1500.0))
    stats = compute_step_stats("a", "", started(), rows, plan)
    assert stats.slo_decision == "breaches"
    rule, detail = stop_rule(stats, plan)
    assert rule == "slo" and "p95 e2e" in detail and "lower bound" in detail


def test_error_rate_rule_wins_over_slo():
    rows = [result(i, ok=False, error="connect") for i in range(3)] + [result(3)]
    plan = LoadPlan(concurrencies=(1,), requests_per_step=4, slo=Slo(5000.0), max_error_rate=0.5)
    stats = compute_step_stats("a", "", started(), rows, plan)
    assert stats.error_rate == 0.75
    assert stop_rule(stats, plan)[0] == "error_rate"


@pytest.mark.parametrize(
    "metric,field", [("ttft", "ttft_p95_ms"), ("itl", "itl_p95_ms"), ("tpot", "tpot_p95_ms")]
)
def test_slo_metric_is_configurable(metric, field):
    rows = [result(i) for i in range(5)]
    plan = LoadPlan(concurrencies=(1,), requests_per_step=5, slo=Slo(10.0, SloMetric(metric)))
    stats = compute_step_stats("a", "", started(), rows, plan)
    assert getattr(stats, field) > 10.0
    assert stats.slo_met is False


def test_load_plan_rejects_bad_values():
    with pytest.raises(ValueError):
        LoadPlan(concurrencies=(), requests_per_step=1)
    with pytest.raises(ValueError):
        LoadPlan(concurrencies=(1, 0), requests_per_step=1)
    with pytest.raises(ValueError):
        LoadPlan(concurrencies=(1,), requests_per_step=1, step_seconds=2)
    assert LoadPlan(concurrencies=(1,)).adaptive  # neither length given: adaptive steps
    with pytest.raises(ValueError):
        Slo(-1)
    plan = LoadPlan(concurrencies=(1, 2), step_seconds=3.0, slo=Slo(100, SloMetric.TTFT))
    assert LoadPlan.from_dict(plan.to_dict()) == plan


def test_a_gap_with_nothing_in_flight_is_not_part_of_the_step():
    from quanttui.core.stepstats import busy_time

    assert busy_time([(0, 2), (1, 3), (5, 6)]) == 4  # 3 s busy, 2 s paused, 1 s busy
    assert busy_time([(0, 10), (2, 3)]) == 10
    rows = [result(0, start=0.0, e2e=1.0), result(1, start=4.0, e2e=1.0)]
    stats = compute_step_stats("a", "", started(), rows, None)
    assert stats.duration_s == 2.0 and stats.tok_s == pytest.approx(82 / 2.0)
