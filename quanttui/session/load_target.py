"""What the load runner drives (a variant's client) and how one request's outcome becomes an event."""

from __future__ import annotations

from dataclasses import dataclass, replace

from quanttui.core.clock import SessionClock
from quanttui.core.events import RequestResult
from quanttui.core.loadplan import LoadPlan
from quanttui.io.openai_client import RequestOptions, StreamOutcome
from quanttui.session.load_clients import LoadClient


@dataclass
class Target:
    variant: str
    precision: str
    client: LoadClient


def result_event(
    clock: SessionClock,
    variant: str,
    step: int,
    index: int,
    warmup: bool,
    outcome: StreamOutcome,
    intended: float | None = None,
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
        intended=intended,
    )


def request_options(plan: LoadPlan, options: RequestOptions, step: int, index: int) -> RequestOptions:
    """One request's options: its answer length drawn from the plan's distribution (sent with
    ignore_eos, so it is exactly that long), else the session's options as they are."""
    if plan.output_lengths is None:
        return options
    return replace(options, max_tokens=plan.output_lengths.draw(step, index), ignore_eos=True)
