"""What report.html draws, from a fold: the distributions' step and the samples over time."""

from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    GpuProcess,
    GpuSample,
    ProcessSample,
    RequestResult,
    StepFinished,
    StepStarted,
)
from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.report_data import distributions
from quanttui.core.verdict import fold_verdict

E2E_S = {1: 0.5, 2: 0.8, 4: 5.0}  # the SLO is 2 s: c=1 and c=2 meet it, c=4 breaches


def folded() -> SessionFold:
    plan = LoadPlan(concurrencies=(1, 2, 4), requests_per_step=80, slo=Slo(2000.0))
    fold = SessionFold(plan)
    fold.apply(EndpointInfo(t=0.0, variant="bf16", url="http://x", model="m", precision="bf16", pids=(11,)))
    t = 1.0
    for step, conc in enumerate((1, 2, 4)):
        fold.apply(StepStarted(t=t, step=step, concurrency=conc, requests=80, seconds=None, warmup_requests=0,
                               variants=("bf16",)))  # fmt: skip
        for i in range(80):
            e2e = E2E_S[conc] * (1 + i / 800)
            fold.apply(RequestResult(t=t + e2e, variant="bf16", step=step, index=i, warmup=False, start=t, ok=True,
                                     ttft=0.05 * conc, e2e=e2e, itl_us=(1000 * conc, 2000 * conc),
                                     output_tokens=3))  # fmt: skip
            t += 0.01
        fold.apply(EngineSample(t=t, variant="bf16", kv_cache_usage=0.1 * conc, running=conc, waiting=0,
                                generation_tokens_total=None, prompt_tokens_total=None, preemptions_total=None))  # fmt: skip
        fold.apply(ProcessSample(t=t, variant="bf16", rss_mib=2000.0 + step, cpu_pct=None, pids=1))
        fold.apply(StepFinished(t=t + 6, step=step))
        t += 7
    return fold


def test_the_distributions_are_at_the_largest_step_within_the_slo_or_the_one_asked_for():
    fold = folded()
    verdict = fold_verdict(fold)
    (cap,) = verdict.capacities
    assert cap.max_conc_meeting_slo == 2 and cap.first_conc_over_slo == 4
    (dist,) = distributions(fold.all_step_stats(), verdict.capacities, fold.aggregator.results)
    assert dist.level_text == "c=2" and dist.why == "the largest step within the SLO"
    assert len(dist.ttft_ms) == 80 and set(dist.ttft_ms) == {100.0}
    assert sorted(set(dist.itl_ms)) == [2.0, 4.0] and len(dist.itl_ms) == 160
    (asked,) = distributions(fold.all_step_stats(), verdict.capacities, fold.aggregator.results, level=4)
    assert asked.level_text == "c=4" and set(asked.itl_ms) == {4.0, 8.0}


def test_the_timeline_keeps_every_sample_and_says_which_memory_it_is():
    fold = folded()
    timeline = fold.timeline
    assert [p.kv_cache_usage for p in timeline.engine["bf16"]] == [0.1, 0.2, 0.4]
    assert [s.label for s in timeline.steps] == ["c=1", "c=2", "c=4"] and all(s.end for s in timeline.steps)
    what, series = timeline.memory
    assert what.startswith("host memory") and [v for _, v in series["bf16"]] == [2000.0, 2001.0, 2002.0]
    copy = timeline.copy()
    fold.apply(GpuSample(t=100.0, index=0, name="GPU", mem_total_mib=16000, mem_used_mib=9000, util_pct=None,
                         power_w=None, processes=(GpuProcess(11, 7000.0), GpuProcess(99, 2000.0))))  # fmt: skip
    what, series = fold.timeline.memory
    assert what == "GPU memory" and series == {"bf16": [(100.0, 7000.0)]}  # its own process only
    assert copy.gpu_mib == {}  # a snapshot does not move with the fold


def test_an_engine_on_two_gpus_is_drawn_as_the_sum_of_both():
    fold = folded()
    for t, index, used in ((100.0, 0, 3000.0), (100.0, 1, 2500.0), (101.0, 0, 3100.0)):
        fold.apply(GpuSample(t=t, index=index, name="GPU", mem_total_mib=16000, mem_used_mib=used, util_pct=None,
                             power_w=None, processes=(GpuProcess(11, used),)))  # fmt: skip
    assert fold.timeline.gpu_mib["bf16"] == [(100.0, 3000.0), (100.0, 5500.0), (101.0, 5600.0)]
    assert fold.timeline.gpu_total_mib == 32000
