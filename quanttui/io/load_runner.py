"""The load runner: drives the ramp at every variant at once, same prompts in the same order.

Each step is closed-loop: `concurrency` workers per variant, each sending its next request as
soon as the previous one ends. All variants run a step together and the next step starts when
all have finished it. After each step the stop rules are applied per variant, with the same
statistics function the summaries use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quanttui.core.clock import SessionClock
from quanttui.core.events import (
    Event,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import Prompt
from quanttui.core.stepstats import StepStats, compute_step_stats, stop_rule
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions, StreamOutcome


@dataclass
class Target:
    variant: str
    precision: str
    client: OpenAIStreamClient


def result_event(
    clock: SessionClock, variant: str, step: int, index: int, warmup: bool, outcome: StreamOutcome
) -> RequestResult:
    return RequestResult(
        t=clock.at(outcome.end_ns),
        variant=variant,
        step=step,
        index=index,
        warmup=warmup,
        start=clock.at(outcome.start_ns),
        ok=outcome.ok,
        error=str(outcome.error) if outcome.error else None,
        http_status=outcome.http_status,
        error_detail=outcome.error_detail,
        ttft=outcome.ttft_s,
        e2e=outcome.e2e_s,
        itl_us=tuple(outcome.itl_us),
        prompt_tokens=outcome.prompt_tokens,
        output_tokens=outcome.output_tokens,
        output_tokens_estimated=outcome.output_tokens_estimated,
        finish_reason=outcome.finish_reason,
    )


class LoadRunner:
    def __init__(
        self,
        targets: Sequence[Target],
        plan: LoadPlan,
        prompts: Sequence[Prompt],
        options: RequestOptions,
        publish: Callable[[Event], None],
        clock: SessionClock,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if not prompts:
            raise ValueError("the load runner needs at least one prompt")
        self.targets = list(targets)
        self.plan = plan
        self.prompts = list(prompts)
        self.options = options
        self.publish = publish
        self.clock = clock
        self.progress = progress or (lambda line: None)
        self.step_stats: list[StepStats] = []

    async def run(self) -> str:
        active = list(self.targets)
        reason = "completed"
        for step, concurrency in enumerate(self.plan.concurrencies):
            if not active:
                reason = "all_retired"
                break
            self.publish(
                StepStarted(
                    t=self.clock.now(),
                    step=step,
                    concurrency=concurrency,
                    requests=self.plan.requests_per_step,
                    seconds=self.plan.step_seconds,
                    warmup_requests=self.plan.warmup_requests,
                    variants=tuple(t.variant for t in active),
                )
            )
            self.progress(f"step {step + 1}/{len(self.plan.concurrencies)}: concurrency {concurrency}")
            per_target = await asyncio.gather(*(self._drive(t, step, concurrency) for t in active))
            self.publish(StepFinished(t=self.clock.now(), step=step))
            still_active = []
            for target, results in zip(active, per_target, strict=True):
                stats = compute_step_stats(
                    target.variant, target.precision, step, concurrency, results, self.plan
                )
                self.step_stats.append(stats)
                self.progress(_progress_line(stats))
                rule = stop_rule(stats, self.plan)
                if rule:
                    self.publish(
                        VariantRetired(
                            t=self.clock.now(),
                            variant=target.variant,
                            step=step,
                            rule=rule[0],
                            detail=rule[1],
                        )
                    )
                    self.progress(f"  {target.variant} stops: {rule[1]}")
                else:
                    still_active.append(target)
            active = still_active
        self.publish(SweepFinished(t=self.clock.now(), reason=reason))
        return reason

    async def _drive(self, target: Target, step: int, concurrency: int) -> list[RequestResult]:
        loop = asyncio.get_running_loop()
        warmup = self.plan.warmup_requests
        total = None if self.plan.requests_per_step is None else self.plan.requests_per_step + warmup
        ends_at = None if self.plan.step_seconds is None else loop.time() + self.plan.step_seconds
        results: list[RequestResult] = []
        next_index = 0

        async def worker() -> None:
            nonlocal next_index
            while True:
                if total is not None and next_index >= total:
                    return
                if ends_at is not None and loop.time() >= ends_at:
                    return
                index = next_index
                next_index += 1
                prompt = self.prompts[index % len(self.prompts)]
                outcome = await target.client.stream_chat(prompt.as_messages(), self.options)
                event = result_event(self.clock, target.variant, step, index, index < warmup, outcome)
                results.append(event)
                self.publish(event)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return results


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _progress_line(stats: StepStats) -> str:
    slo = "" if stats.slo_met is None else ("  SLO ok" if stats.slo_met else "  SLO MISSED")
    return (
        f"  {stats.variant:<12} conc {stats.conc:>4}  req {stats.requests:>5}  err {stats.errors:>4}  "
        f"tok/s {_fmt(stats.tok_s):>8}  ttft p95 {_fmt(stats.ttft_p95_ms, ' ms'):>10}  "
        f"e2e p95 {_fmt(stats.p95_ms, ' ms'):>10}{slo}"
    )
