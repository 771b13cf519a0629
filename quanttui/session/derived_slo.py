"""An SLO derived from what one user alone sees, for runs that were given none (the demo).

The reference variant (BF16, else the first) serves one warm-up request (a cold engine's first
answer is slow and would skew a median of eight), then `requests` requests one at a time; the SLO is
`factor` x their median end-to-end latency, rounded up to two significant digits so that runs
back to back land on the same bound. Twice the idle latency is the objective "no user waits more
than twice what an idle server gives": on any machine the ramp then finds where queueing doubles
latency. The calibration requests are not part of any step; the derived SLO is published as an
operator note and a `set_slo` command, so the fold, the recording and every report carry it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event, OperatorNote
from quanttui.core.prompts import Prompt
from quanttui.core.verdict import baseline_first
from quanttui.io.openai_client import RequestOptions
from quanttui.session.ramp import RampControl

DERIVED_SLO_FACTOR = 2.0
CALIBRATION_REQUESTS = 8


def round_up_2sig(value: float) -> float:
    """970 for 964.2, 1,100 for 1,034: two significant digits, rounded up."""
    if value <= 0:
        return value
    exponent = math.floor(math.log10(value)) - 1
    return round(math.ceil(round(value / 10**exponent, 9)) * 10**exponent, max(0, -exponent))


async def derive_slo(
    targets: Sequence[object],
    prompts: Sequence[Prompt],
    options: RequestOptions,
    control: RampControl,
    publish: Callable[[Event], None],
    clock: SessionClock,
    progress: Callable[[str], None],
    factor: float = DERIVED_SLO_FACTOR,
    requests: int = CALIBRATION_REQUESTS,
) -> float | None:
    """Measure, publish and apply the derived SLO (p95 e2e, ms); None when no request succeeded."""
    by_name = {t.variant: t for t in targets}  # type: ignore[attr-defined]
    precisions = {t.variant: t.precision for t in targets}  # type: ignore[attr-defined]
    reference = by_name[baseline_first(list(by_name), precisions)[0]]
    latencies = []
    for i in range(-1, requests):  # -1: the warm-up, not counted
        if control.stopped:
            return None
        outcome = await reference.client.stream_chat(prompts[i % len(prompts)].as_messages(), options)
        if i >= 0 and outcome.ok and outcome.e2e_s is not None:
            latencies.append(outcome.e2e_s * 1000.0)
    if not latencies:
        progress(f"SLO not derived: none of {requests} calibration requests to {reference.variant} succeeded")
        return None
    median = statistics.median(latencies)
    slo_ms = round_up_2sig(factor * median)
    text = (
        f"SLO derived: p95 e2e <= {slo_ms:,.0f} ms = {factor:g} x {reference.variant}'s single-user median "
        f"e2e {median:,.0f} ms over {len(latencies)} requests, rounded up"
    )
    progress(text)
    publish(OperatorNote(t=clock.now(), text=text, variant=reference.variant))
    control.set_slo(slo_ms)
    return slo_ms
