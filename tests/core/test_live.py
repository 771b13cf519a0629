"""LiveState folds a synthetic session into what the console shows: bounded, capacity from the
steps' decisions."""

import pytest
from live_events import PLAN, result, session_events

from quanttui.core.events import (
    EngineSample,
    GpuProcess,
    GpuSample,
    GpuUnavailable,
    InstanceState,
    LogLine,
    OperatorCommand,
    ProcessSample,
    RampStatus,
    ReplayReset,
    RequestResult,
    StepFinished,
    StepStarted,
)
from quanttui.core.live import LiveState
from quanttui.core.series import RollingWindow, SecondSeries


def test_state_follows_startup_capacity_queue_and_logs():
    state = LiveState(PLAN, ["bf16", "awq"])
    state.apply_all(session_events())
    bf16, awq = state.variants["bf16"], state.variants["awq"]
    assert state.names() == ["bf16", "awq"]
    assert bf16.state == "ready" and bf16.state_detail == "ready in 2.0 s" and not bf16.starting
    assert bf16.kv_capacity_tokens == 1024 and bf16.kv_usage == 0.5
    assert bf16.kv_headroom_tokens == 512 and awq.kv_headroom_tokens == 3072
    # /metrics' own capacity wins over the log's (kv_usage is a fraction of it).
    state.apply(EngineSample(t=9.7, variant="awq", kv_cache_usage=0.5, running=0, waiting=0,
                             generation_tokens_total=150, prompt_tokens_total=50, preemptions_total=0,
                             kv_cache_size_tokens=2000))  # fmt: skip
    assert awq.kv_capacity_tokens == 2000 and awq.kv_headroom_tokens == 1000
    assert (bf16.running, bf16.waiting, bf16.preemptions) == (2, 1, 2)  # counted from the first scrape
    assert bf16.server_tok_s == 40.0
    # Log lines are made literal once, when folded: no escapes, markup kept as plain characters.
    assert [e.text for e in bf16.logs] == ["INFO [bold]loaded[/bold]␇"]
    assert bf16.errors_by_class == {"timeout_idle": 1} and bf16.errors == 1
    assert bf16.retired is not None and state.sweep_end == "completed"
    assert (state.step, state.step_concurrency, state.steps_total) == (2, 2, 2)
    assert bf16.step_done == 5 and bf16.step_errors == 1


def test_startup_progress_moves_through_phases():
    state = LiveState(PLAN)
    state.apply(InstanceState(t=0, variant="a", state="launching"))
    assert state.variants["a"].starting and state.variants["a"].phase_index == 0
    state.apply(InstanceState(t=1, variant="a", state="profiling"))
    assert state.variants["a"].phase_index == 3
    state.apply(InstanceState(t=2, variant="a", state="failed", detail="out of memory\x1b[0m"))
    assert state.variants["a"].state_detail == "out of memory"


def test_capacity_comes_from_the_step_decisions_and_follows_a_new_slo():
    state = LiveState(PLAN)
    events = session_events()
    first_end = events.index(StepFinished(t=5.0, step=1))
    state.apply_all(events[:first_end])
    assert state.capacity == {} and state.verdict is None  # no step finished yet
    state.apply(events[first_end])
    # 4 requests under the 500 ms SLO: too few to decide "meets" (the interval's top is open).
    bf16 = state.capacity["bf16"]
    assert (bf16.status, bf16.max_conc_meeting_slo) == ("undecided", None)
    assert bf16.holds_text().startswith("holds none, undecided at 1 (")
    state.apply_all(events[first_end + 1 :])
    # bf16's c=2 breach is decided, but the chain of "meets" broke at c=1 already: still undecided
    # there. The point p95 over the SLO alone is no capacity.
    assert state.step_rows[("bf16", 2)].slo_decision == "breaches"
    assert state.capacity["bf16"].status == "undecided" and state.capacity["bf16"].first_conc_over_slo is None
    assert state.capacity["awq"].status == "undecided"
    assert state.verdict is not None and state.verdict.sentences[0].startswith(
        "On this CPU (no GPU), inconclusive"
    )

    state.apply(OperatorCommand(t=10.0, command="set_slo", value=2000.0))
    assert state.slo_ms == 2000 and state.step_rows[("bf16", 2)].slo_decision == "undecided"
    assert state.fold.plan.slo.p95_ms == 2000  # the fold every export reads has the SLO the operator set
    state.apply(OperatorCommand(t=10.1, command="set_slo", value="100"))
    for name in ("bf16", "awq"):  # every c=1 latency is over 100 ms: a decided breach at the lowest step
        cap = state.capacity[name]
        assert (cap.status, cap.first_conc_over_slo, cap.decided) == ("never met", 1, True)
    state.apply(OperatorCommand(t=10.2, command="set_slo", value="nonsense"))
    assert state.slo_ms == 100
    assert state.notes[-1][1] == "set_slo nonsense"


def test_the_open_step_so_far_is_computed_on_request_only():
    state = LiveState(PLAN)
    events = session_events()
    state.apply_all(events[: events.index(StepFinished(t=9.5, step=2))])
    assert state.running == {}  # folding events never computes it
    version = state.version
    assert state.refresh_running() and state.version == version + 1
    assert list(state.running) == ["bf16"]  # one variant a call
    assert state.refresh_running() and set(state.running) == {"bf16", "awq"}
    assert not state.refresh_running()  # nothing new since: nothing recomputed
    awq = state.running["awq"]
    assert (awq.step, awq.conc, awq.requests, awq.slo_decision) == (2, 2, 4, "undecided")
    assert awq.slo_pct_ms == pytest.approx(300.0) and awq.slo_pct_ms_lo is not None
    state.apply(events[events.index(StepFinished(t=9.5, step=2))])
    assert state.running == {} and not state.refresh_running()  # no open step
    state.apply(StepStarted(t=10, step=3, concurrency=4, requests=4, seconds=None, warmup_requests=0,
                            variants=("awq",)))  # fmt: skip
    assert state.refresh_running(None) and state.running["awq"].requests == 0


def test_rolling_latency_throughput_and_deltas():
    state = LiveState(PLAN, window_s=30.0, rate_s=5)
    state.apply_all(session_events())
    lat = state.latency("bf16")
    # e2e of bf16's 8 good requests: 200..260 ms at c=1, 800..950 ms at c=2 (the failed one is not counted)
    assert lat.samples == 8
    assert lat.e2e_p50_ms == pytest.approx((260 + 800) / 2)  # linear between the middle two
    assert lat.e2e_p95_ms == pytest.approx(900 + 0.65 * 50)  # rank 6.65: 900 -> 950
    assert lat.ttft_p95_ms == pytest.approx(50.0)
    assert state.over_slo("bf16") and not state.over_slo("awq")
    # 4 x 10 + 4 x 20 tokens completed over seconds 3..7 (the current second 9 is still open).
    assert state.client_tok_s("awq") == pytest.approx(sum([0, 20, 20 + 20, 40, 0]) / 5)
    assert state.server_tok_s("bf16") == 40.0 and state.server_tok_s("awq") == 80.0  # means of the scrapes
    # The sweep is over: the comparison is of the last level both finished, from its step results.
    (delta,) = state.deltas()
    assert delta.variant == "awq" and delta.baseline == "bf16"
    assert (delta.source, delta.conc) == ("steps", "c=2")
    bf16, awq = state.step_rows[("bf16", 2)], state.step_rows[("awq", 2)]
    assert delta.tok_s_ratio == pytest.approx(awq.tok_s / bf16.tok_s)
    assert delta.p95_ratio == pytest.approx(awq.p95_ms / bf16.p95_ms) and delta.kv_headroom_tokens == 3072
    assert delta.baseline_capacity is state.capacity["bf16"] and delta.capacity is state.capacity["awq"]

    # 40 s later nothing is left in the 30 s window.
    state.apply(EngineSample(t=50.0, variant="awq", kv_cache_usage=0.0, running=0, waiting=0,
                             generation_tokens_total=150, prompt_tokens_total=50, preemptions_total=0))  # fmt: skip
    assert state.latency("awq").samples == 0 and state.latency("awq").e2e_p95_ms is None
    assert state.client_tok_s("awq") == 0
    p95_series = state.variants["bf16"].slo_p95.points()
    assert p95_series and max(v for _, v in p95_series) > 500


def test_a_ratio_is_live_only_while_both_variants_are_loaded_then_of_the_step_results():
    """One variant's part of a step ends first: its window empties while the other's goes on, so the
    live ratio stops there (it read "×15.16"), and once the step ends its results are compared."""
    state = LiveState(PLAN, rate_s=5)
    state.apply_all([InstanceState(t=0.0, variant=n, state="ready") for n in ("bf16", "awq")])
    state.apply(StepStarted(t=0.0, step=0, concurrency=1, requests=20, seconds=None, warmup_requests=0,
                            variants=("bf16", "awq")))  # fmt: skip
    events = [EngineSample(t=4.0, variant="bf16", kv_cache_usage=0.1, running=1, waiting=0,
                           generation_tokens_total=200, prompt_tokens_total=0, preemptions_total=0,
                           generation_tok_s=20.0)]  # fmt: skip
    for i in range(1, 21):  # one user each: bf16 does its 20 requests by t=10, awq at half the pace
        events.append(result("bf16", 0, i * 0.5, 0.5, tokens=10))
        if i % 2 == 0:
            events.append(result("awq", 0, i * 0.5, 1.0, tokens=10))
    state.apply_all(events[:-2])  # up to t=9.5: bf16 has sent its last request, 19 have come back
    (live,) = state.deltas()
    assert live.source == "live" and live.conc is None
    assert live.tok_s_ratio == pytest.approx(state.client_tok_s("awq") / state.client_tok_s("bf16"))
    assert live.tok_s_ratio == pytest.approx(0.5)
    assert live.server_tok_s_ratio is None  # awq's engine said nothing of its own rate
    assert live.p95_ratio is None  # the 30 s latency window reaches back before the step began
    short = LiveState(PLAN, rate_s=5, window_s=5)  # a latency window that fits inside the step
    short.apply_all([InstanceState(t=0.0, variant=n, state="ready") for n in ("bf16", "awq")])
    short.apply(StepStarted(t=0.0, step=0, concurrency=1, requests=20, seconds=None, warmup_requests=0,
                            variants=("bf16", "awq")))  # fmt: skip
    short.apply_all(events[:-2])
    (short_live,) = short.deltas()
    assert short_live.p95_ratio == pytest.approx(
        short.latency("awq").slo_p95_ms / short.latency("bf16").slo_p95_ms
    )
    state.apply_all(events[-2:])  # bf16's part is done: no live ratio any more, no step result yet
    (between,) = state.deltas()
    assert (between.source, between.tok_s_ratio, between.p95_ratio) == ("", None, None)
    for i in range(10):
        state.apply(result("awq", 0, 11.0 + i, 1.0, tokens=10))
    state.apply(StepFinished(t=21.0, step=0))
    (done,) = state.deltas()
    bf16, awq = state.step_rows[("bf16", 0)], state.step_rows[("awq", 0)]
    assert (done.source, done.conc) == ("steps", "c=1")
    assert done.tok_s_ratio == pytest.approx(awq.tok_s / bf16.tok_s)
    # A paused ramp is not a live window either.
    state.apply(StepStarted(t=21.0, step=1, concurrency=2, requests=40, seconds=None, warmup_requests=0,
                            variants=("bf16", "awq")))  # fmt: skip
    state.apply_all([result("bf16", 1, 28.0, 1.0), result("awq", 1, 28.0, 1.0)])
    assert state.deltas()[0].source == "live"
    state.apply(RampStatus(t=28.5, state="paused"))
    assert state.deltas()[0].source == "steps"
    state.apply(RampStatus(t=29.0, state="running"))
    state.apply(result("bf16", 1, 33.5, 1.0))
    assert state.deltas()[0].source == "steps"  # the window 28..33 s holds the pause
    state.apply(result("bf16", 1, 34.5, 1.0))
    assert state.deltas()[0].source == "live"
    # The alternate schedule loads one variant at a time: never live, each level's results once both ran it.
    state.apply(StepFinished(t=35.0, step=1))
    state.apply(StepStarted(t=35.0, step=2, concurrency=4, requests=40, seconds=None, warmup_requests=0,
                            variants=("awq",)))  # fmt: skip
    state.apply_all([result("awq", 2, 40.0 + i, 1.0) for i in range(5)])
    assert (state.deltas()[0].source, state.deltas()[0].conc) == ("steps", "c=2")


def test_gpu_memory_by_pid_process_memory_and_no_gpu():
    state = LiveState(None)
    state.apply_all(session_events()[:10])
    state.apply(GpuSample(t=3, index=0, name="RTX", mem_total_mib=16000, mem_used_mib=9000, util_pct=50,
                          power_w=70, processes=(GpuProcess(11, 3000), GpuProcess(12, 500), GpuProcess(21, 2000),
                                                 GpuProcess(99, 100))))  # fmt: skip
    assert state.variants["bf16"].gpu_mem_mib == 3500 and state.variants["awq"].gpu_mem_mib == 2000
    assert state.variants["bf16"].gpu_processes == ((11, 3000), (12, 500))
    assert state.gpu_total() == (9000, 16000)

    state.apply(GpuUnavailable(t=4, reason="NVML Shared Library Not Found\x1b]0;x\x07"))
    state.apply(ProcessSample(t=4, variant="awq", rss_mib=812.5, cpu_pct=97.0, pids=3))
    assert state.gpu_unavailable == "NVML Shared Library Not Found"
    awq = state.variants["awq"]
    assert (awq.rss_mib, awq.cpu_pct, awq.process_count) == (812.5, 97.0, 3)


def test_replay_reset_starts_over_and_republished_events_give_the_same_state():
    state = LiveState(PLAN, ["bf16", "awq"])
    events = session_events()
    state.apply_all(events)
    before = (state.capacity, state.latency("bf16"), state.client_tok_s("awq"))
    state.apply(ReplayReset(t=9.6))
    assert state.resets == 1 and state.step is None and state.names() == ["bf16", "awq"]
    assert state.variants["bf16"].requests == 0 and not state.fold.aggregator.results
    assert state.capacity == {} and state.verdict is None
    state.apply_all(events)
    assert (state.capacity, state.latency("bf16"), state.client_tok_s("awq")) == before


def test_memory_is_bounded_over_a_long_session():
    state = LiveState(None, history_s=600, log_lines=50)
    for second in range(3000):
        state.apply(EngineSample(t=float(second), variant="a", kv_cache_usage=0.5, running=1, waiting=0,
                                 generation_tokens_total=float(second), prompt_tokens_total=0.0,
                                 preemptions_total=0.0, generation_tok_s=1.0))  # fmt: skip
        state.apply(LogLine(t=float(second), variant="a", line=f"line {second}"))
        state.apply(result("a", 1, second + 0.5, 0.1))
    a = state.variants["a"]
    assert len(a.kv_pct) == 600 and len(a.client_tok) == 600 and len(a.slo_p95) <= 600
    assert a.kv_pct.points()[0][0] == 2400
    assert len(a.logs) == 50 and a.log_count == 3000 and a.logs[-1].text == "line 2999"
    assert len(a.e2e) <= 31


def test_second_series_merges_and_fills_gaps():
    tokens = SecondSeries("sum", span_s=5)
    tokens.add(10.2, 3)
    tokens.add(10.9, 2)
    tokens.add(13.0, 4)
    assert tokens.points() == [(10, 5), (11, 0), (12, 0), (13, 4)]
    assert tokens.rate(2) == 0 and tokens.rate(4, until=14) == pytest.approx(9 / 4)
    tokens.add(4.0, 1)  # older than the kept span: ignored
    tokens.add(100.0, 1)
    assert tokens.points()[-1] == (100, 1) and len(tokens) == 5
    gauge = SecondSeries("last", span_s=5)
    gauge.add(1.1, 0.2)
    gauge.add(1.9, 0.4)
    gauge.add(3.0, 0.1)
    assert gauge.points() == [(1, 0.4), (3, 0.1)] and gauge.latest() == 0.1
    assert [round(v, 3) for _, v in SecondSeries("sum", 5).trailing_mean(2)] == []


def test_rolling_window_trims_by_time():
    window = RollingWindow(span_s=10)
    for t in range(20):
        window.add(float(t), float(t))
    window.trim(19.0)
    assert list(window) == [float(t) for t in range(9, 20)]
    assert window.percentile(50) == 14.0


def test_client_tokens_land_in_the_seconds_they_streamed():
    from quanttui.core.live_variant import token_seconds

    # 41 tokens over 4 s: first at 10.5 s, then one every 0.1 s until 14.5 s.
    event = RequestResult(t=14.5, variant="awq", step=1, index=0, warmup=False, start=10.4, ok=True, ttft=0.1,
                          e2e=4.1, itl_us=(100_000,) * 40, output_tokens=41)  # fmt: skip
    spread = dict(token_seconds(event))
    assert sum(spread.values()) == pytest.approx(41)
    assert set(spread) == {10.0, 11.0, 12.0, 13.0, 14.0}
    assert max(spread.values()) <= 11  # no pile-up at the end
    # Chunks that carry several tokens share the usage count evenly.
    chunky = RequestResult(t=2.0, variant="awq", step=1, index=0, warmup=False, start=0.0, ok=True, ttft=0.5,
                           e2e=2.0, itl_us=(1_000_000,), output_tokens=10)  # fmt: skip
    assert token_seconds(chunky) == [(0.0, 5.0), (1.0, 5.0)]
    # No timing (a replayed old error-free result without TTFT): everything at its end, as before.
    untimed = RequestResult(t=3.2, variant="awq", step=1, index=0, warmup=False, start=0.0, ok=True,
                            output_tokens=7)  # fmt: skip
    assert token_seconds(untimed) == [(3.2, 7.0)]


def test_roofline_from_header_facts_and_the_concurrency_1_step():
    state = LiveState(PLAN, window_s=30.0, rate_s=5)
    state.set_hardware({"hardware": {"memory_bandwidth_gbps": 40.0, "bandwidth_source": "measured"},
                        "variants": [{"name": "bf16", "weights_bytes": 400_000_000}, {"name": "awq"}]})  # fmt: skip
    state.apply_all(session_events())
    bf16 = state.roofline("bf16")
    assert bf16 is not None and bf16.bound_tok_s == pytest.approx(100.0)
    assert bf16.measured_tok_s == pytest.approx(50.0)  # TPOT p50 20 ms at c=1 in these events
    assert state.roofline("awq") is None  # no weight size known
    state.reset()
    assert state.hardware.bandwidth_gbps == 40.0  # a replay's backward seek keeps the header's facts
