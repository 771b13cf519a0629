"""The load runner: drives the ramp at every variant at once, same prompts in the same order.

Each step is closed-loop: `concurrency` workers per variant, each sending its next request as
soon as the previous one ends. All variants run a step together and the next step starts when
all have finished it. After each step the runner reads each variant's decision from the
session's fold (core/fold.py: the statistics and stop rules every summary and report uses), which
the stream feeds synchronously, so what retires a variant live is what a replay re-derives.

A `RampControl` carries the operator's commands (start, pause, resume, stop, step up/down, a new
SLO). Commands are plain method calls on the event loop's thread: they change state, publish an
`OperatorCommand` and wake the workers; they never await. The runner reads that state between
requests, so it never waits on whoever sends the commands. Without a control (headless) the ramp
starts at once and runs the plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
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
from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import Prompt
from quanttui.core.stepstats import StepStats
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions, StreamOutcome
from quanttui.session.ramp import RampControl


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
        fold: SessionFold,
        progress: Callable[[str], None] | None = None,
        control: RampControl | None = None,
        before_step: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        """`publish` must feed `fold` before it returns (the session's stream taps it).
        `before_step(concurrency)` runs before each step (the session grows its client pools when
        the operator steps beyond the plan's highest concurrency)."""
        if not prompts:
            raise ValueError("the load runner needs at least one prompt")
        self.targets = list(targets)
        self.plan = plan
        self.prompts = list(prompts)
        self.options = options
        self.publish = publish
        self.clock = clock
        self.fold = fold
        self.progress = progress or (lambda line: None)
        self.control = control or RampControl(plan, publish, clock, started=True)
        self.before_step = before_step
        self._rejoining: list[Target] = []

    def rejoin(self, variant: str) -> bool:
        """A variant whose engine was restarted takes part again from the next step on."""
        target = next((t for t in self.targets if t.variant == variant), None)
        if target is None:
            return False
        self._rejoining.append(target)
        return True

    async def run(self) -> str:
        control = self.control
        try:
            await control.wait_started()
            reason = await self._ramp()
        finally:
            control.finish()
        self.publish(SweepFinished(t=self.clock.now(), reason=reason))
        return reason

    async def _ramp(self) -> str:
        control = self.control
        levels = len(self.plan.concurrencies)
        active = list(self.targets)
        index, trigger, step = 0, "plan", 0
        while True:
            if control.stopped:
                return "stopped"
            active += [t for t in self._rejoining if t not in active]
            self._rejoining.clear()
            if not active:
                return "all_retired"
            control.enter_step(index)
            concurrency = control.concurrency_at(index)
            if self.before_step:
                await self.before_step(concurrency)
            moved = control.take_target()
            if moved is not None:  # the operator moved while the step was being prepared
                index, trigger = moved, "operator"
                continue
            self.publish(
                StepStarted(
                    t=self.clock.now(),
                    step=step,
                    concurrency=concurrency,
                    requests=self.plan.requests_per_step,
                    seconds=self.plan.step_seconds,
                    warmup_requests=self.plan.warmup_requests,
                    variants=tuple(t.variant for t in active),
                    trigger=trigger,
                )
            )
            shown = f"step {step + 1}/{levels}" if trigger == "plan" else f"step {step + 1} (operator)"
            self.progress(f"{shown}: concurrency {concurrency}")
            driven = await asyncio.gather(*(self._drive(t, step, concurrency) for t in active))
            cut = any(was_cut for _, was_cut in driven)
            target = control.take_target()
            ended = "completed"
            if cut:
                ended = "stopped" if control.stopped else "operator"
            self.publish(StepFinished(t=self.clock.now(), step=step, reason=ended))
            active = self._judge(active, step)
            step += 1
            if control.stopped:
                return "stopped"
            if target is not None:
                index, trigger = target, "operator"
            else:
                index, trigger = index + 1, "plan"
                if index >= levels:
                    return "completed"

    def _judge(self, active: list[Target], step: int) -> list[Target]:
        """The variants that go on after this step, as the fold decided (a step the operator cut
        short is not judged)."""
        retired = set()
        for decision in self.fold.decisions(step):
            self.progress(_progress_line(decision.stats))
            if decision.rule is None:
                continue
            retired.add(decision.variant)
            self.publish(
                VariantRetired(
                    t=self.clock.now(),
                    variant=decision.variant,
                    step=step,
                    rule=decision.rule,
                    detail=decision.detail,
                )
            )
            self.progress(f"  {decision.variant} stops: {decision.detail}")
        return [t for t in active if t.variant not in retired]

    async def _drive(self, target: Target, step: int, concurrency: int) -> tuple[list[RequestResult], bool]:
        """One variant's step: its results, and whether an operator command cut it short.

        Warm-up requests run first and are waited for, then the measured ones start together at
        full concurrency (as `vllm bench serve` does): a warm-up mixed into the first wave would
        push one measured request into a lone last wave and understate the step's tok/s (seen
        in bench/vs_vllm_bench.py: 6.07 s instead of 5.47 s for the same 1,024 tokens).
        """
        control = self.control
        warmup = self.plan.warmup_requests
        results: list[RequestResult] = []
        next_index = 0
        cut = False

        async def worker(total: int | None, ends_at: float | None) -> None:
            nonlocal next_index, cut
            while True:
                if control.paused:
                    await control.wait_running()
                if control.interrupting:
                    cut = True
                    return
                if total is not None and next_index >= total:
                    return
                if ends_at is not None and control.active_time() >= ends_at:
                    return
                index = next_index
                next_index += 1
                prompt = self.prompts[index % len(self.prompts)]
                outcome = await target.client.stream_chat(prompt.as_messages(), self.options)
                event = result_event(self.clock, target.variant, step, index, index < warmup, outcome)
                results.append(event)
                self.publish(event)

        if warmup:
            await asyncio.gather(*(worker(warmup, None) for _ in range(min(warmup, concurrency))))
            if cut:
                return results, cut
        total = None if self.plan.requests_per_step is None else self.plan.requests_per_step + warmup
        ends_at = None if self.plan.step_seconds is None else control.active_time() + self.plan.step_seconds
        await asyncio.gather(*(worker(total, ends_at) for _ in range(concurrency)))
        return results, cut


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _progress_line(stats: StepStats) -> str:
    slo = ""
    if stats.slo_met is not None:  # the point p95, then what 95 % confidence says of it
        slo = ("  SLO ok" if stats.slo_met else "  SLO MISSED") + f" ({stats.slo_decision} at 95 %)"
    return (
        f"  {stats.variant:<12} conc {stats.conc:>4}  req {stats.requests:>5}  err {stats.errors:>4}  "
        f"tok/s {_fmt(stats.tok_s):>8}  ttft p95 {_fmt(stats.ttft_p95_ms, ' ms'):>10}  "
        f"e2e p95 {_fmt(stats.p95_ms, ' ms'):>10}{slo}"
    )
