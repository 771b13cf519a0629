"""A synthetic two-engine session for the LiveState tests (tests/core) and the console-part tests (tests/ui)."""

from quanttui.core.events import (
    EndpointInfo,
    EngineCapacity,
    EngineSample,
    Event,
    InstanceState,
    LogLine,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.loadplan import LoadPlan, Slo

PLAN = LoadPlan(concurrencies=(1, 2), requests_per_step=4, slo=Slo(500.0))


def result(variant, step, t, e2e, *, ok=True, tokens=10, warmup=False, error=None, ttft=0.05):
    return RequestResult(
        t=t, variant=variant, step=step, index=0, warmup=warmup, start=t - e2e, ok=ok, error=error,
        ttft=ttft if ok else None, e2e=e2e if ok else None, itl_us=(1000,) * (tokens - 1) if ok else (),
        output_tokens=tokens if ok else None,
    )  # fmt: skip


def session_events() -> list[Event]:
    """Two engines start, step 1 (c=1) is fast for both, step 2 (c=2) is slow for bf16 only."""
    ev: list[Event] = [
        InstanceState(t=0.0, variant="bf16", state="launching"),
        InstanceState(t=0.1, variant="awq", state="launching"),
        InstanceState(t=0.5, variant="bf16", state="loading weights"),
        EngineCapacity(t=1.0, variant="bf16", kv_cache_tokens=1024, tokens_per_request=512, max_concurrency=2.0),
        EngineCapacity(t=1.1, variant="awq", kv_cache_tokens=4096, tokens_per_request=512, max_concurrency=8.0),
        LogLine(t=1.2, variant="bf16", line="\x1b[32mINFO\x1b[0m [bold]loaded[/bold]\x07"),
        InstanceState(t=2.0, variant="bf16", state="ready", detail="ready in 2.0 s"),
        InstanceState(t=2.1, variant="awq", state="ready"),
        EndpointInfo(t=2.2, variant="bf16", url="http://a", model="m-bf16", precision="bf16", pids=(11, 12)),
        EndpointInfo(t=2.2, variant="awq", url="http://b", model="m-awq", precision="awq", pids=(21,)),
        StepStarted(t=3.0, step=1, concurrency=1, requests=4, seconds=None, warmup_requests=0,
                    variants=("bf16", "awq")),
    ]  # fmt: skip
    for i in range(4):
        ev.append(result("bf16", 1, 3.5 + i * 0.3, 0.2 + i * 0.02))
        ev.append(result("awq", 1, 3.5 + i * 0.3, 0.1 + i * 0.01))
    ev.append(StepFinished(t=5.0, step=1))
    ev.append(StepStarted(t=5.0, step=2, concurrency=2, requests=4, seconds=None, warmup_requests=0,
                          variants=("bf16", "awq")))  # fmt: skip
    for i in range(4):
        ev.append(result("bf16", 2, 6.0 + i * 0.5, 0.8 + i * 0.05, tokens=20))
        ev.append(result("awq", 2, 6.0 + i * 0.5, 0.3, tokens=20))
    ev.append(result("bf16", 2, 7.9, 0, ok=False, error="timeout_idle"))
    ev += [
        EngineSample(t=8.0, variant="bf16", kv_cache_usage=0.5, running=2, waiting=1, generation_tokens_total=100,
                     prompt_tokens_total=50, preemptions_total=3, generation_tok_s=40.0),
        EngineSample(t=8.0, variant="awq", kv_cache_usage=0.25, running=2, waiting=0, generation_tokens_total=150,
                     prompt_tokens_total=50, preemptions_total=0, generation_tok_s=80.0),
        EngineSample(t=9.0, variant="bf16", kv_cache_usage=0.5, running=2, waiting=1, generation_tokens_total=140,
                     prompt_tokens_total=50, preemptions_total=5, generation_tok_s=40.0),
        StepFinished(t=9.5, step=2),
        VariantRetired(t=9.5, variant="bf16", step=2, rule="slo", detail="p95 e2e > SLO"),
        SweepFinished(t=9.6, reason="completed"),
    ]  # fmt: skip
    return ev
