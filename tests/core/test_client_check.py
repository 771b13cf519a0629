"""The client's self-check: when a step is client-bound, and how the fold carries it to StepStats."""

from live_events import PLAN, result

from quanttui.core.client_check import check_client, usage_chunk_mismatches
from quanttui.core.events import ClientSample, EndpointInfo, StepFinished, StepStarted
from quanttui.core.fold import SessionFold


def sample(t=1.0, lag_p99=1.0, cpu=30.0, chunks=100, coalesced=0, lag_max=None, source="load worker 1"):
    return ClientSample(
        t=t, source=source, seconds=1.0, lag_p50_ms=0.5, lag_p99_ms=lag_p99,
        lag_max_ms=lag_max if lag_max is not None else lag_p99 + 1, cpu_pct=cpu, token_chunks=chunks,
        coalesced=coalesced,
    )  # fmt: skip


def test_not_measured_is_none_not_fine():
    check = check_client([], 20.0)
    assert check.bound is None and not check.measured and check.lag_p99_ms is None


def test_a_late_loop_is_judged_against_the_gaps_it_stamps():
    assert check_client([sample(lag_p99=4.0)], 20.0).bound is False  # limit 5 ms: a quarter of 20 ms
    late = check_client([sample(lag_p99=1.0), sample(t=2.0, lag_p99=6.0)], 20.0)
    assert late.bound is True and late.lag_p99_ms == 6.0
    assert late.reason == "its event loop ran more than 5.0 ms late at p99 in 1 of 2 s (worst 6.0 ms)"
    lone = [sample(t=float(t)) for t in range(10)] + [sample(t=10.0, lag_p99=40.0)]
    assert check_client(lone, 20.0).bound is False  # one stall in 11 s is not a bottleneck
    assert check_client([*lone, sample(t=11.0, lag_p99=9.0)], 20.0).bound is True  # 2 of 12
    assert check_client([sample(lag_p99=2.5)], 8.0).bound is True  # 8 ms gaps: limit 2 ms
    assert check_client([sample(lag_p99=1.9)], 4.0).bound is False  # never below the ticker's 2 ms floor
    assert check_client([sample(lag_p99=4.9)], 200.0).bound is False  # nor above 5 ms
    assert check_client([sample(lag_p99=4.9)], None).bound is False


def test_a_process_flat_out_is_client_bound_and_coalesced_chunks_are_counted():
    check = check_client(
        [sample(cpu=95.0, chunks=300, coalesced=30), sample(t=2.0, cpu=91.0, chunks=100)], 20.0
    )
    assert check.bound is True and check.reason == "a load process used 93 % of a core"
    assert (
        check_client([sample(cpu=95.0), sample(t=2.0, cpu=30.0)], 20.0).bound is False
    )  # a burst, on average 62 %
    assert check.cpu_pct == 95.0 and check.coalesced_pct == 7.5


def test_usage_that_differs_from_the_chunks_is_counted():
    same = result("a", 1, 1.0, 0.5, tokens=10)  # 9 gaps, 10 tokens
    fewer_chunks = result("a", 1, 1.0, 0.5, tokens=10).__class__(**{**same.__dict__, "itl_us": (1000,) * 4})
    estimated = same.__class__(**{**same.__dict__, "itl_us": (1000,), "output_tokens_estimated": True})
    assert usage_chunk_mismatches([same, fewer_chunks, estimated]) == 1


def test_the_fold_judges_the_client_on_the_seconds_of_the_measured_requests():
    fold = SessionFold(PLAN)
    fold.apply(EndpointInfo(t=0.0, variant="a", url="http://a", model="m", precision="bf16"))
    fold.apply(
        StepStarted(
            t=0.5, step=1, concurrency=1, requests=4, seconds=None, warmup_requests=1, variants=("a",)
        )
    )
    fold.apply(result("a", 1, 0.9, 0.3, tokens=10, warmup=True))
    # The fill wave's second (its connections opening) is the client's busiest; it is not measured.
    fold.apply(sample(t=1.05, lag_p99=50.0))
    for i in range(4):  # measured requests from 1.1 s to 4.5 s
        fold.apply(result("a", 1, 1.5 + i, 0.4, tokens=10))
    for i in range(3):  # seconds centred at 1.5, 2.5 and 3.5 s
        fold.apply(sample(t=2.0 + i, lag_p99=1.0 + i * 0.2, chunks=10, coalesced=1))
    fold.apply(sample(t=6.0, lag_p99=30.0))  # after the last measured request: idle, not counted
    fold.apply(StepFinished(t=6.5, step=1))
    stats = fold.step_stats("a", 1)
    assert stats.client_lag_p99_ms == 1.4 and stats.client_bound is False  # 1 ms gaps: the 2 ms floor holds
    assert stats.client_coalesced_pct == 10.0 and stats.usage_chunk_mismatch == 0
    row = stats.row()
    assert row["client_bound"] is False and row["client_cpu_pct"] == 30.0
