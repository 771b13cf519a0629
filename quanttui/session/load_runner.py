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

from quanttui.core.clock import SessionClock
from quanttui.core.decisions import look_plan
from quanttui.core.events import (
    Event,
    OperatorNote,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.fold import SessionFold
from quanttui.core.levels import StepLevel, rate_fill, step_request_cap
from quanttui.core.loadplan import LoadPlan, Schedule
from quanttui.core.prompts import Prompt
from quanttui.core.stepstats import StepStats
from quanttui.io.openai_client import RequestOptions, StreamOutcome
from quanttui.session.closed_step import ClosedStep
from quanttui.session.derived_slo import derive_slo
from quanttui.session.gc_policy import collect_between_steps, full_collections_between_steps
from quanttui.session.length_prompts import WorkloadPrompts
from quanttui.session.load_target import Target
from quanttui.session.own_history import OwnHistory, stream_prompt
from quanttui.session.ramp import RampControl
from quanttui.session.rate_step import RateStep


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
        derive_slo_factor: float | None = None,
        workload_prompts: WorkloadPrompts | None = None,
    ) -> None:
        """`publish` must feed `fold` before it returns (the session's stream taps it).
        `before_step(concurrency)` runs before each step (the session grows its client pools when
        the operator steps beyond the plan's highest concurrency). `workload_prompts` makes the
        prompts of prompt-length steps and of the shared-prefix workload with the engine's tokenizer."""
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
        self.derive_slo_factor = derive_slo_factor  # no SLO given: derive one first (session/derived_slo.py)
        self.workload_prompts = workload_prompts
        self._prefixed: list[Prompt] | None = None
        self._counter_said = False
        self.history = OwnHistory() if plan.own_history else None  # conversations: own answers
        self._rejoining: list[Target] = []
        self._next_step = 0  # the next step's number (steps are numbered across trials)
        self._retired_now: set[str] = set()

    def rejoin(self, variant: str) -> bool:
        """A variant whose engine was restarted takes part again from the next step on."""
        target = next((t for t in self.targets if t.variant == variant), None)
        if target is None:
            return False
        self._rejoining.append(target)
        return True

    async def run(self) -> str:
        control = self.control
        reason = "completed"
        try:
            await control.wait_started()
            if self.derive_slo_factor and self.fold.slo is None:
                await derive_slo(
                    self.targets, self.prompts, self.options, control, self.publish, self.clock, self.progress,
                    self.derive_slo_factor,
                )  # fmt: skip
            with full_collections_between_steps():
                for trial in range(self.plan.trials):
                    if self.plan.trials > 1:
                        self.progress(f"trial {trial + 1}/{self.plan.trials}")
                    reason = await self._ramp(trial)
                    if reason == "stopped":
                        break
        finally:
            try:
                self._say_stood_in()
            finally:
                control.finish()
        self.publish(SweepFinished(t=self.clock.now(), reason=reason))
        return reason

    def _order(self, targets: list[Target], trial: int, level: int) -> list[Target]:
        """The variants' order: flipped every trial, and (alternate schedule) every step."""
        flips = trial + (level if self.plan.schedule is Schedule.ALTERNATE else 0)
        return list(reversed(targets)) if flips % 2 else list(targets)

    async def _ramp(self, trial: int) -> str:
        control = self.control
        levels = len(self.plan.levels)
        active = list(self.targets)
        index, trigger = 0, "plan"
        while True:
            if control.stopped:
                return "stopped"
            active += [t for t in self._rejoining if t not in active]
            self._rejoining.clear()
            if not active:
                return "all_retired"
            control.enter_step(index)
            concurrency = control.concurrency_at(index)
            level = StepLevel(self.plan.kind, control.level_at(index), concurrency)
            if self.before_step:
                await self.before_step(concurrency)
            prompts = await self._prompts_for(level)
            moved = control.take_target()
            if moved is not None:  # the operator moved while the step was being prepared
                index, trigger = moved, "operator"
                continue
            shown = (
                f"step {index + 1}/{levels}"
                if trigger == "plan"
                else f"step {self._next_step + 1} (operator)"
            )
            self.progress(f"{shown}: {level.describe()}")
            ordered = self._order(active, trial, index)
            groups = [[t] for t in ordered] if self.plan.schedule is Schedule.ALTERNATE else [ordered]
            cut = False
            for group in groups:
                collect_between_steps()
                cut = await self._step(group, level, prompts, trigger, trial) or cut
                if control.stopped or control.interrupting:
                    break
            target = control.take_target()
            retired = self._retired_now
            active = [t for t in active if t.variant not in retired]
            self._retired_now = set()
            if control.stopped:
                return "stopped"
            if target is not None:
                index, trigger = target, "operator"
            else:
                index, trigger = index + 1, "plan"
                if index >= levels:
                    return "completed"

    async def turn(self, target: Target, prompt: Prompt, options: RequestOptions) -> StreamOutcome:
        """One request of a conversation with the variant's own answers as its history."""
        outcome, _ = await stream_prompt(target, prompt, options, self.history, self.clock)
        return outcome

    def _say_stood_in(self) -> None:
        """How many turns a recorded answer stood in for the variant's own (a failed earlier turn)."""
        history = self.history
        if history is None:
            return
        for target in self.targets:
            stood_in = history.stood_in(target.variant)
            if stood_in:
                total = stood_in + history.own.get(target.variant, 0)
                text = (
                    f"{stood_in} of {total} later turns carried a recorded answer where the variant's own "
                    "earlier answer had failed"
                )
                self.publish(OperatorNote(t=self.clock.now(), text=text, variant=target.variant))
                self.progress(f"  {target.variant}: {text}")

    async def _prompts_for(self, level: StepLevel) -> list[Prompt]:
        prompts = await self._workload_prompts(level)
        made = self.workload_prompts
        if made is not None and made.counted_by and not self._counter_said:
            self._counter_said = True  # once: which tokenizer the exact lengths are in
            text = f"exact prompt lengths counted by {made.counted_by}"
            self.publish(OperatorNote(t=self.clock.now(), text=text))
            self.progress(text)
        return prompts

    async def _workload_prompts(self, level: StepLevel) -> list[Prompt]:
        made = self.workload_prompts
        if level.input_tokens is not None:
            if made is None:
                raise ValueError("prompt-length steps need the engine's tokenizer (workload_prompts)")
            count = self.plan.warmup_requests + level.concurrency + step_request_cap(self.plan, level)
            return await made.of_length(level.input_tokens, count)
        if self.plan.prompt_lengths is not None:
            if made is None:
                raise ValueError("synthetic prompts need the engine's tokenizer (workload_prompts)")
            fill = rate_fill(level.rate) if level.rate else level.concurrency
            count = self.plan.warmup_requests + fill + step_request_cap(self.plan, level)
            return await made.of_lengths([self.plan.prompt_lengths.draw(-1, i) for i in range(count)])
        if self.plan.prefix_tokens:
            if made is None:
                raise ValueError("the shared-prefix workload needs the engine's tokenizer (workload_prompts)")
            if self._prefixed is None:
                self._prefixed = await made.with_prefix(self.plan.prefix_tokens, self.prompts)
            return self._prefixed
        return self.prompts

    async def _step(
        self, group: list[Target], level: StepLevel, prompts: list[Prompt], trigger: str, trial: int
    ) -> bool:
        """One step for these variants (all of them, or one in the alternate schedule); True when an
        operator command cut it short."""
        control = self.control
        step = self._next_step
        self._next_step += 1
        concurrency = level.concurrency
        looks = look_plan(self.plan, concurrency, len(self.targets), level.rate)
        fill = self.plan.warmup_requests + (rate_fill(level.rate) if level.rate else concurrency)
        self.publish(
            StepStarted(
                t=self.clock.now(),
                step=step,
                concurrency=concurrency,
                requests=self.plan.requests_per_step,
                seconds=self.plan.step_seconds,
                warmup_requests=fill,
                variants=tuple(t.variant for t in group),
                trigger=trigger,
                looks=looks.looks,
                alpha_meets=looks.alpha_meets,
                alpha_breach=looks.alpha_breach,
                confidence=self.plan.confidence,
                trial=trial,
                rate=level.rate,
                input_tokens=level.input_tokens,
            )
        )
        if len(group) < len(self.targets) and self.plan.schedule is Schedule.ALTERNATE:
            self.progress(f"  {group[0].variant} alone (alternate schedule)")
        if level.rate is not None:
            sender = RateStep(self, step, level.rate, looks, prompts)
            driven = await asyncio.gather(*(sender.drive(t) for t in group))
        else:
            users = ClosedStep(self, step, concurrency, looks, prompts)
            driven = await asyncio.gather(*(users.drive(t) for t in group))
        cut = any(was_cut for _, was_cut in driven)
        ended = "completed"
        if cut:
            ended = "stopped" if control.stopped else "operator"
        self.publish(StepFinished(t=self.clock.now(), step=step, reason=ended))
        self._retired_now |= self._judge(step)
        return cut

    def _judge(self, step: int) -> set[str]:
        """The variants this step retires, as the fold decided (a step the operator cut short is
        not judged)."""
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
        return retired


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _level(stats: StepStats) -> str:
    if stats.rate is not None:
        return f"rate {stats.rate:>6g}/s"
    if stats.input_tokens is not None:
        return f"prompt {stats.input_tokens:>5} tok"
    return f"conc {stats.conc:>4}"


def _progress_line(stats: StepStats) -> str:
    slo = ""
    if stats.slo_decision is not None:  # the SLO percentile, its interval, and what it decides
        lo, hi = _fmt(stats.slo_pct_ms_lo), _fmt(stats.slo_pct_ms_hi)
        slo = f"  p{stats.slo_percentile:g} {stats.slo_metric} {_fmt(stats.slo_pct_ms)} [{lo}, {hi}] ms: {stats.slo_decision.upper()}"
    else:
        slo = f"  e2e p95 {_fmt(stats.p95_ms, ' ms'):>10}"
    busy = "  BUSY HOST" if stats.host_busy else ""
    if stats.client_bound:
        busy += f"  CLIENT-BOUND (lag p99 {stats.client_lag_p99_ms:.1f} ms, CPU {stats.client_cpu_pct:.0f} %)"
    if stats.rate is not None and stats.lag_p99_ms is not None:
        busy += f"  send lag p99 {stats.lag_p99_ms:.1f} ms" + ("  BEHIND" if stats.behind else "")
    if stats.queue_growing:
        busy += "  QUEUE GROWING"
    if stats.prefix_cache_hit_rate:
        busy += f"  prefix hits {stats.prefix_cache_hit_rate:.0%}"
    return (
        f"  {stats.variant:<12} {_level(stats)}  req {stats.requests:>5} (+{stats.warmup} warm-up)  err {stats.errors:>4}  "
        f"tok/s {_fmt(stats.tok_s):>8}{slo}{busy}"
    )
