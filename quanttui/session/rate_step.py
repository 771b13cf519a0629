"""One open-loop step on one variant: requests sent at the plan's arrival times, measured and judged
like a closed-loop step (issue 19).

The schedule is the plan's seeded arrivals for this step (core/arrivals.py), the same for every
variant. Its first second is warm-up; the measured requests follow until the step is decided at
one of its looks, its request cap is sent, or its time cap passes (above saturation there is no
steady state: the time cap ends it and the queue check says so). A pause stops the sends and moves
the rest of the schedule later; requests in flight when the sending ends still finish.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quanttui.core.decisions import LookPlan, complete_prefix
from quanttui.core.events import RequestResult
from quanttui.core.levels import LevelKind, StepLevel, rate_fill, step_request_cap
from quanttui.core.prompts import Prompt
from quanttui.session.load_target import Target, request_options, result_event
from quanttui.session.open_loop import send_open_loop
from quanttui.session.own_history import stream_prompt

if TYPE_CHECKING:
    from quanttui.session.load_runner import LoadRunner


class RateStep:
    def __init__(self, runner: LoadRunner, step: int, rate: float, looks: LookPlan, prompts: list[Prompt]):
        self.runner = runner
        self.step = step
        self.rate = rate
        self.looks = looks
        self.prompts = prompts
        plan = runner.plan
        self.fill = plan.warmup_requests + rate_fill(rate)
        level = StepLevel(LevelKind.RATE, rate, plan.in_flight_cap)
        self.offsets = plan.arrivals.offsets(rate, self.fill + step_request_cap(plan, level), step)

    async def drive(self, target: Target) -> tuple[list[RequestResult], bool]:
        """The variant's results, and whether an operator command cut the step short."""
        runner, control, plan = self.runner, self.runner.control, self.runner.plan
        fill = self.fill
        results: list[RequestResult] = []
        pending_looks = list(self.looks.looks)
        state = {"decided": False, "cut": False}
        seconds = plan.step_seconds if plan.step_seconds is not None else plan.max_step_seconds
        ends_at = control.active_time() + self.offsets[fill - 1] + seconds

        def check_looks() -> None:
            measured = [r for r in results if r.index >= fill]
            while pending_looks and complete_prefix(measured, fill, pending_looks[0]) is not None:
                if runner.fold.step_stats(target.variant, self.step).decided_at is not None:
                    state["decided"] = True
                    pending_looks.clear()
                    return
                pending_looks.pop(0)

        def stop() -> bool:
            if control.interrupting:
                state["cut"] = True
                return True
            if plan.requests_per_step is not None:
                return False  # a fixed number: the schedule's length
            return state["decided"] or control.active_time() >= ends_at

        async def send(index: int, intended: float) -> None:
            prompt = self.prompts[index % len(self.prompts)]
            options = request_options(runner.plan, runner.options, self.step, index)
            outcome, ready = await stream_prompt(target, prompt, options, runner.history, runner.clock)
            if ready is not None:  # waited for its own answer to the turn before: not the scheduler's lag
                intended = max(intended, ready)
            event = result_event(
                runner.clock, target.variant, self.step, index, index < fill, outcome, intended
            )
            results.append(event)
            runner.publish(event)
            if pending_looks and index >= fill:
                check_looks()

        await send_open_loop(
            self.offsets, send, runner.clock, plan.in_flight_cap, stop,
            paused=lambda: control.paused, resumed=control.wait_running,
        )  # fmt: skip
        return results, state["cut"]
