"""Fleets (issue 21), the pure parts: replicas' scrapes merged into one engine, a step's requests by
replica, the fleet's capacity per fleet and per replica, and the console's drill-down."""

from dataclasses import replace

import pytest

from quanttui.core.capacity import VariantCapacity
from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    MetricsUnavailable,
    ReplicaState,
    RequestResult,
    StepFinished,
    StepStarted,
)
from quanttui.core.fleet import FleetSamples, fleet_sentence, merge_samples, replica_label, replica_rows
from quanttui.core.fold import SessionFold
from quanttui.core.levels import LevelKind
from quanttui.core.live import LiveState
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric

A, B = "http://10.0.0.7:8000", "http://10.0.0.8:8000"


def sample(replica, t, *, kv, size, running, waiting, generated, rate=None):
    return EngineSample(
        t=t, variant="awq", kv_cache_usage=kv, running=running, waiting=waiting,
        generation_tokens_total=generated, prompt_tokens_total=generated / 2, preemptions_total=1.0,
        generation_tok_s=rate, kv_cache_size_tokens=size, replica=replica,
    )  # fmt: skip


def result(replica, index, e2e, *, ok=True, step=0, warmup=False, t=None, tokens=10):
    return RequestResult(
        t=t if t is not None else 1.0 + index * 0.1, variant="awq", step=step, index=index, warmup=warmup,
        start=0.5 + index * 0.1 - e2e, ok=ok, error=None if ok else "connect", ttft=0.05 if ok else None,
        e2e=e2e if ok else None, output_tokens=tokens if ok else None, replica=replica,
    )  # fmt: skip


def test_a_fleet_reads_as_one_engine_with_its_replicas_summed():
    merged = merge_samples(
        "awq",
        [sample(A, 1.0, kv=0.5, size=1000, running=3, waiting=1, generated=100, rate=40.0),
         sample(B, 1.1, kv=0.2, size=3000, running=1, waiting=0, generated=50, rate=10.0)],
        1.1,
    )  # fmt: skip
    assert merged.replica is None and merged.variant == "awq"
    assert (merged.running, merged.waiting, merged.generation_tokens_total) == (4, 1, 150)
    assert merged.generation_tok_s == 50.0 and merged.kv_cache_size_tokens == 4000
    assert merged.kv_cache_usage == pytest.approx((0.5 * 1000 + 0.2 * 3000) / 4000)  # tokens in use / tokens
    unsized = merge_samples("awq", [replace(sample(A, 1, kv=0.5, size=1, running=0, waiting=0, generated=1),
                                            kv_cache_size_tokens=None),
                                    sample(B, 1, kv=0.1, size=10, running=0, waiting=0, generated=1)], 1)  # fmt: skip
    assert unsized.kv_cache_usage == pytest.approx(0.3)  # a capacity unknown: the mean


def test_a_replica_that_goes_quiet_keeps_its_counters_but_not_its_queue():
    fleet = FleetSamples()
    fleet.view(sample(A, 1.0, kv=0.5, size=100, running=3, waiting=2, generated=100))
    fleet.view(sample(B, 1.0, kv=0.5, size=100, running=1, waiting=0, generated=40))
    fleet.stale("awq", B)
    merged = fleet.view(sample(A, 2.0, kv=0.5, size=100, running=2, waiting=0, generated=120))
    assert merged.running == 2 and merged.generation_tokens_total == 160  # B's counter stays in the sum
    assert merged.kv_cache_usage == 0.5  # B's usage is not current
    single = sample(None, 3.0, kv=0.1, size=10, running=1, waiting=0, generated=1)
    assert fleet.view(single) is single  # a variant of one endpoint passes through


def test_a_steps_requests_by_replica():
    results = [result(A, i, 0.2 + i * 0.01) for i in range(6)] + [result(B, 10 + i, 0.4) for i in range(3)]
    results += [result(B, 20, 0.0, ok=False), result(A, 30, 9.9, warmup=True)]
    rows = replica_rows("awq", 0, results, SloMetric.E2E)
    assert [(r.label, r.requests, r.errors) for r in rows] == [
        ("10.0.0.7:8000", 6, 0),
        ("10.0.0.8:8000", 4, 1),
    ]
    assert rows[0].share == pytest.approx(0.6) and rows[1].share == pytest.approx(0.4)
    assert rows[0].p95_ms == pytest.approx(247.5) and rows[1].p95_ms == pytest.approx(400.0)
    assert replica_rows("awq", 0, [replace(r, replica=None) for r in results], SloMetric.E2E) == []


def cap(status, held, over=None, kind=LevelKind.CONCURRENCY):
    return VariantCapacity(
        variant="awq", precision="awq", metric="e2e", slo_ms=3000.0, steps=3, max_conc_meeting_slo=held,
        first_conc_over_slo=over, breach="", blowup_conc=None, blowup_detail="", peak_tok_s=None,
        tok_s_at_max_safe=None, p95_at_max_safe_ms=None, batch1_tok_s=None, status=status, kind=kind,
    )  # fmt: skip


def test_the_fleet_sentence_states_the_fleet_and_each_replica():
    even = replica_rows("awq", 2, [result(A, i, 0.2) for i in range(5)] + [result(B, 9 + i, 0.2) for i in range(5)],
                        SloMetric.E2E)  # fmt: skip
    assert fleet_sentence(cap("decided", 96, 128), 4, even) == (
        "The awq fleet of 4 replicas holds 96 concurrent users at p95 e2e <= 3,000 ms (95% confidence), "
        "24 per replica.")  # fmt: skip
    uneven = replica_rows("awq", 2, [result(A, i, 0.2) for i in range(8)] + [result(B, 9, 0.2, ok=False),
                                                                              result(B, 10, 0.2)], SloMetric.E2E)  # fmt: skip
    words = fleet_sentence(cap("decided", 8, 16), 2, uneven)
    assert "not evenly loaded at that step (80% vs 20% of the requests)" in words
    assert "10.0.0.8:8000 failed 1 of 2." in words
    assert "holds at least 8 concurrent users" in fleet_sentence(cap("not reached", 8), 2, even)
    assert fleet_sentence(cap("never met", None, 1), 2, []).endswith("no capacity per replica.")
    assert "2 req/s per replica" in fleet_sentence(cap("decided", 4.0, 8.0, LevelKind.RATE), 2, even)


def fleet_events():
    return [
        EndpointInfo(t=0.0, variant="awq", url=A, model="m", precision="awq", replicas=(A, B)),
        StepStarted(t=0.1, step=0, concurrency=2, requests=None, seconds=None, warmup_requests=0, variants=("awq",)),
        sample(A, 0.5, kv=0.5, size=100, running=2, waiting=0, generated=10),
        sample(B, 0.6, kv=0.1, size=100, running=1, waiting=1, generated=5),
        *[result(A, i, 0.2) for i in range(4)],
        result(B, 5, 0.3), result(B, 6, 0.0, ok=False),
        MetricsUnavailable(t=1.5, variant="awq", reason="unreachable: refused", replica=B),
        ReplicaState(t=1.6, variant="awq", replica=B, up=False, detail="3 requests in a row failed"),
        StepFinished(t=2.0, step=0),
    ]  # fmt: skip


def test_the_fold_and_the_console_read_a_fleet_from_the_same_events():
    fold = SessionFold(LoadPlan(concurrencies=(2,), slo=Slo(3000.0)))
    for event in fleet_events():
        fold.apply(event)
    assert fold.replicas("awq") == (A, B)
    assert fold.aggregator.variants["awq"].last_sample.running == 3  # the last merge, before B went quiet
    fold.apply(sample(A, 2.5, kv=0.5, size=100, running=2, waiting=0, generated=12))
    assert fold.aggregator.variants["awq"].last_sample.running == 2  # then B's queue is not current
    assert [(r.replica, r.requests, r.errors) for r in fold.replica_rows("awq", 0)] == [(A, 4, 0), (B, 2, 1)]
    assert [e.up for e in fold.replica_events] == [False]
    state = LiveState(None)
    state.apply_all(fleet_events())
    assert state.fleet.serving("awq") == (1, 2)
    assert state.variants["awq"].metrics_unavailable is None  # one replica's /metrics is not the fleet's
    views = state.fleet.views("awq", state.now, state.rate_s)
    assert [(v.label, v.serving, v.requests, v.errors) for v in views] == [
        ("10.0.0.7:8000", True, 4, 0), ("10.0.0.8:8000", False, 2, 1)]  # fmt: skip
    assert (
        views[1].detail == "3 requests in a row failed" and views[1].metrics_problem == "unreachable: refused"
    )
    assert views[0].e2e_p95_ms == pytest.approx(200.0)
    assert "awq replica 10.0.0.8:8000 out: 3 requests in a row failed" in [text for _, text in state.notes]


def test_a_replica_label_is_its_url_without_the_scheme():
    assert replica_label("https://gpu-a.example:8443/") == "gpu-a.example:8443"
