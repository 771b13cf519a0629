"""The aggregator folds events into step statistics; a variant's idle tail does not dilute its rates."""

import pytest

from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    GpuProcess,
    GpuSample,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
)  # fmt: skip
from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.summary import build_summary


def sample(t, variant, gen, kv=0.1, running=1.0, waiting=0.0, preempt=0.0):
    return EngineSample(t=t, variant=variant, kv_cache_usage=kv, running=running, waiting=waiting,
                        generation_tokens_total=gen, prompt_tokens_total=0.0, preemptions_total=preempt)  # fmt: skip


def req(variant, start, end, tokens=10, warmup=False):
    return RequestResult(t=end, variant=variant, step=0, index=0, warmup=warmup, start=start, ok=True,
                         ttft=0.1, e2e=end - start, itl_us=(1000,) * (tokens - 1), output_tokens=tokens)  # fmt: skip


def test_engine_window_per_variant_and_summary():
    plan = LoadPlan(concurrencies=(2,), requests_per_step=2, slo=Slo(3000.0))
    fold = SessionFold(plan)
    agg = fold.aggregator
    events = [
        EndpointInfo(t=0.0, variant="a", url="u", model="m", precision="bf16", pids=(100,)),
        EndpointInfo(t=0.0, variant="b", url="u", model="m", precision="awq"),
        sample(0.5, "a", 0.0, preempt=3.0),
        StepStarted(t=1.0, step=0, concurrency=2, requests=2, seconds=None, warmup_requests=0, variants=("a", "b")),
        sample(1.0, "a", 0.0, preempt=3.0),
        sample(1.0, "b", 0.0),
        GpuSample(t=1.5, index=0, name="gpu", mem_total_mib=1000, mem_used_mib=900, util_pct=50, power_w=None,
                  processes=(GpuProcess(100, 300.0), GpuProcess(7, 500.0))),
        sample(2.0, "a", 50.0, kv=0.9, running=2.0, waiting=3.0, preempt=5.0),
        sample(2.0, "b", 20.0),
        req("b", 1.0, 2.0),
        req("b", 1.0, 2.0),
        sample(3.0, "a", 100.0, kv=0.5, preempt=5.0),
        sample(3.0, "b", 20.0),  # b idles while a finishes
        sample(4.0, "b", 20.0),
        req("a", 1.0, 3.0),
        req("a", 1.0, 3.0),
        StepFinished(t=4.0, step=0),
        SweepFinished(t=4.0, reason="completed"),
    ]  # fmt: skip
    for event in events:
        fold.apply(event)
    a = agg.step_stats("a", 0)
    b = agg.step_stats("b", 0)
    assert a.kv_cache_peak == 0.9 and a.running_peak == 2.0 and a.waiting_peak == 3.0
    assert a.preemptions == 2.0
    assert a.server_tok_s == pytest.approx(50.0)  # 100 tokens over 1 s..3 s
    assert a.gpu_mem_peak_mib == 300.0  # only its own pid
    assert b.gpu_mem_peak_mib is None  # pids unknown: no attribution
    assert b.server_tok_s == pytest.approx(20.0)  # 1 s..2 s, not diluted by the idle tail to 4 s
    assert a.tok_s == pytest.approx(10.0) and b.tok_s == pytest.approx(20.0)
    summary = build_summary({"plan": plan.to_dict()}, fold)
    assert [v["name"] for v in summary["variants"]] == ["a", "b"]
    # two requests within the SLO decide nothing: the capacity is undecided, not "2"
    assert summary["variants"][0]["max_conc_meeting_slo"] is None
    assert summary["variants"][0]["capacity_status"] == "undecided"
    assert summary["gpu"]["names"] == ["gpu"]
    assert summary["sweep"]["reason"] == "completed"
