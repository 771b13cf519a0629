"""One closed-loop step on one variant: `concurrency` users, each sending its next request as soon
as its last one is answered, measured and judged by the fold's looks (the runner's other kind of
step is session/rate_step.py)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from quanttui.core.decisions import LookPlan, complete_prefix
from quanttui.core.events import RequestResult
from quanttui.core.prompts import Prompt
from quanttui.io.openai_client import StreamOutcome
from quanttui.session.load_target import Target, request_options, result_event

if TYPE_CHECKING:
    from quanttui.session.load_runner import LoadRunner


class ClosedStep:
    def __init__(
        self, runner: LoadRunner, step: int, concurrency: int, looks: LookPlan, prompts: list[Prompt]
    ):
        self.runner = runner
        self.step = step
        self.concurrency = concurrency
        self.looks = looks
        self.prompts = prompts

    async def drive(self, target: Target) -> tuple[list[RequestResult], bool]:
        """One variant's step: its results, and whether an operator command cut it short.

        Configured warm-up requests run first and are waited for. Then `concurrency` closed-loop
        users start together; the first request of each (the fill wave, sent before all users are
        in flight) is warm-up too. The measured requests follow: a fixed number (at least 4 x
        concurrency), a time (likewise), or, adaptive, until the fold says the step is decided at
        one of its looks or a cap is reached. Requests in flight when it is decided still finish
        (they are the step's tail, not measured).
        """
        runner = self.runner
        control, plan = runner.control, runner.plan
        step, concurrency, prompts = self.step, self.concurrency, self.prompts
        warmup = plan.warmup_requests
        fill = warmup + concurrency  # indices below this are not measured
        results: list[RequestResult] = []
        next_index = 0
        cut = False
        decided = False
        minimum = plan.min_measured(concurrency)
        pending_looks = list(self.looks.looks)

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
                if runner.fold.step_stats(target.variant, step).decided_at is not None:
                    decided = True
                    pending_looks.clear()
                    return
                pending_looks.pop(0)  # looked, undecided: on to the next look

        def record(index: int, outcome: StreamOutcome) -> None:
            event = result_event(runner.clock, target.variant, step, index, index < fill, outcome)
            results.append(event)
            runner.publish(event)
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
                        options = request_options(plan, runner.options, step, index)
                        request = asyncio.ensure_future(
                            target.client.stream_chat(prompt.as_messages(), options)
                            if runner.history is None
                            else runner.turn(target, prompt, options)
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
