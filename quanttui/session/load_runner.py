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
from quanttui.core.decisions import LookPlan, complete_prefix, look_plan
from quanttui.core.events import (
    Event,
    OperatorNote,
    RequestResult,
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
from quanttui.session.derived_slo import derive_slo
from quanttui.session.gc_policy import collect_between_steps, full_collections_between_steps
from quanttui.session.length_prompts import WorkloadPrompts
from quanttui.session.load_target import Target, request_options, result_event
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
            self._say_stood_in()
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

    async def _turn(self, target: Target, prompt: Prompt, options: RequestOptions) -> StreamOutcome:
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
            driven = await asyncio.gather(*(self._drive(t, step, concurrency, looks, prompts) for t in group))
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

    async def _drive(
        self, target: Target, step: int, concurrency: int, looks: LookPlan, prompts: list[Prompt]
    ) -> tuple[list[RequestResult], bool]:
        """One variant's step: its results, and whether an operator command cut it short.

        Configured warm-up requests run first and are waited for. Then `concurrency` closed-loop
        users start together; the first request of each (the fill wave, sent before all users are
        in flight) is warm-up too. The measured requests follow: a fixed number (at least 4 x
        concurrency), a time (likewise), or, adaptive, until the fold says the step is decided at
        one of its looks or a cap is reached. Requests in flight when it is decided still finish
        (they are the step's tail, not measured).
        """
        control = self.control
        plan = self.plan
        warmup = plan.warmup_requests
        fill = warmup + concurrency  # indices below this are not measured
        results: list[RequestResult] = []
        next_index = 0
        cut = False
        decided = False
        minimum = plan.min_measured(concurrency)
        pending_looks = list(looks.looks)

        def measured_sent() -> int:
            return max(0, next_index - fill)

        def enough(ends_at: float | None) -> bool:
            if plan.requests_per_step is not None:
                return measured_sent() >= max(plan.requests_per_step, minimum)
            if plan.step_seconds is not None:
                return measured_sent() >= minimum and ends_at is not None and control.active_time() >= ends_at
            cap = max(minimum, plan.max_step_requests)
            timed_out = ends_at is not None and control.active_time() >= ends_at
            return decided or measured_sent() >= cap or timed_out

        def check_looks() -> None:
            nonlocal decided
            measured = [r for r in results if r.index >= fill]
            while pending_looks and complete_prefix(measured, fill, pending_looks[0]) is not None:
                if self.fold.step_stats(target.variant, step).decided_at is not None:
                    decided = True
                    pending_looks.clear()
                    return
                pending_looks.pop(0)  # looked, undecided: on to the next look

        def record(index: int, outcome: StreamOutcome) -> None:
            event = result_event(self.clock, target.variant, step, index, index < fill, outcome)
            results.append(event)
            self.publish(event)
            if pending_looks and index >= fill:
                check_looks()

        async def worker(total: int | None, ends_at: float | None) -> None:
            """One closed-loop user. Its next request goes out before its last one is published:
            the fold and the recorder are the session's bookkeeping, not the user's think time
            (with 256 users ending together they held the last ones' next sends ~100 ms). So in
            an adaptive step a user may have sent one more request when the step is decided;
            like every request then in flight it finishes as the step's tail."""
            nonlocal next_index, cut
            finished: tuple[int, StreamOutcome] | None = None
            request: asyncio.Task[StreamOutcome] | None = None
            try:
                while True:
                    if control.paused:
                        if finished is not None:
                            record(*finished)
                            finished = None
                        await control.wait_running()
                    stop = control.interrupting or (
                        next_index >= total if total is not None else enough(ends_at)
                    )
                    if control.interrupting:
                        cut = True
                    if not stop:
                        index = next_index
                        next_index += 1
                        prompt = prompts[index % len(prompts)]
                        options = request_options(plan, self.options, step, index)
                        request = asyncio.ensure_future(
                            target.client.stream_chat(prompt.as_messages(), options)
                            if self.history is None
                            else self._turn(target, prompt, options)
                        )
                        await asyncio.sleep(
                            0
                        )  # it starts (a warm stream writes at once) before the bookkeeping
                    if finished is not None:
                        record(*finished)
                        finished = None
                    if stop or request is None:
                        return
                    finished = (index, await request)
                    request = None
            finally:
                if request is not None and not request.done():
                    request.cancel()

        if warmup:
            await asyncio.gather(*(worker(warmup, None) for _ in range(min(warmup, concurrency))))
            if cut:
                return results, cut
        seconds = plan.step_seconds if plan.step_seconds is not None else plan.max_step_seconds
        ends_at = control.active_time() + seconds
        await asyncio.gather(*(worker(None, ends_at) for _ in range(concurrency)))
        return results, cut


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
