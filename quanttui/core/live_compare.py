"""The comparison strip's numbers: each variant against the first, from one source at a time.

Dividing two live windows is only honest when both variants were loaded over the same interval:
when one variant's part of a step ended first, its 5-second tok/s fell to nothing while the
other's went on, and the strip read "×15.16". So a ratio is either

- *live*: both variants run the open step right now (serving, the ramp not paused, neither part
  decided or out of requests or time) and the windows lie inside it; tok/s and server tok/s over
  the last `rate_s` whole seconds, the SLO metric's p95 over the last `window_s` seconds: the very
  numbers the two panels show, labelled with their window lengths; or
- *steps*: the step results of the latest concurrency both variants finished in the same trial
  (the `StepStats` the fold gives the CSV and the stop rules), labelled with that concurrency;
- else nothing ("—").

Pure (no Textual), like core/live.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quanttui.core.capacity import VariantCapacity
from quanttui.core.stepstats import StepStats

if TYPE_CHECKING:
    from quanttui.core.live import LiveState

LIVE = "live"
STEPS = "steps"


@dataclass(frozen=True)
class Delta:
    """One variant against the baseline (the first variant): ratios > 1 mean "more than A"."""

    variant: str
    baseline: str
    source: str  # LIVE, STEPS, or "" (nothing comparable yet: every ratio is None)
    conc: str | None  # STEPS: the level whose step results are compared ("c=8", "4 req/s", "448 tok")
    tok_s_ratio: float | None  # client tok/s, B / A
    server_tok_s_ratio: float | None
    p95_ratio: float | None  # p95 of the SLO metric, B / A
    kv_headroom_tokens: float | None  # free KV tokens now (None for an engine not serving)
    baseline_kv_headroom_tokens: float | None
    capacity: VariantCapacity | None  # None until one of its steps finished
    baseline_capacity: VariantCapacity | None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def deltas(state: LiveState) -> list[Delta]:
    names = state.names()
    if len(names) < 2:
        return []
    base = names[0]
    return [_delta(state, name, base) for name in names[1:]]


def _delta(state: LiveState, name: str, base: str) -> Delta:
    v, a = state.variants[name], state.variants[base]
    source, conc = "", None
    tok = srv = p95 = None
    if live_comparable(state, base, name):
        source = LIVE
        tok = ratio(state.client_tok_s(name), state.client_tok_s(base))
        srv = ratio(state.server_tok_s(name), state.server_tok_s(base))
        if live_window_inside(state, state.window_s):  # else the latency window mixes levels
            p95 = ratio(state.latency(name).slo_p95_ms, state.latency(base).slo_p95_ms)
    elif (pair := common_steps(state, base, name)) is not None:
        mine, theirs = pair[1], pair[0]
        source, conc = STEPS, mine.level_text
        metric = state.fold.slo_metric
        tok = ratio(mine.tok_s, theirs.tok_s)
        srv = ratio(mine.server_tok_s, theirs.server_tok_s)
        p95 = ratio(mine.slo_value_ms(metric), theirs.slo_value_ms(metric))
    return Delta(
        variant=name,
        baseline=base,
        source=source,
        conc=conc,
        tok_s_ratio=tok,
        server_tok_s_ratio=srv,
        p95_ratio=p95,
        kv_headroom_tokens=None if state.ended(name) else v.kv_headroom_tokens,
        baseline_kv_headroom_tokens=None if state.ended(base) else a.kv_headroom_tokens,
        capacity=state.capacity.get(name),
        baseline_capacity=state.capacity.get(base),
    )


def live_comparable(state: LiveState, a: str, b: str) -> bool:
    """Both variants are loaded by the open step now, and have been over the whole live window."""
    if state.step is None or state.step in state.steps_done or state.step_started_t is None:
        return False
    if a not in state.step_variants or b not in state.step_variants:
        return False
    if state.ramp_state not in (None, "running"):
        return False
    if not all(state.serving(n) and not state.part_done(n) for n in (a, b)):
        return False
    return live_window_inside(state, state.rate_s)


def live_window_inside(state: LiveState, window_s: float) -> bool:
    """The last `window_s` seconds lie inside the open step, after the ramp's last change."""
    assert state.step_started_t is not None
    return math.floor(state.now) - window_s >= max(state.step_started_t, state.ramp_since)


def common_steps(state: LiveState, a: str, b: str) -> tuple[StepStats, StepStats] | None:
    """(A's, B's) finished step results at the latest level both reached in one trial (a rate
    step's concurrency is only its cap: the level is what the steps share)."""
    latest: dict[str, dict[tuple[int, float], StepStats]] = {a: {}, b: {}}
    for (name, _), row in sorted(state.step_rows.items(), key=lambda item: item[0][1]):
        if name in latest:
            latest[name][(row.trial, row.level)] = row  # a later step at the same level wins
    common = set(latest[a]) & set(latest[b])
    if not common:
        return None
    key = max(common, key=lambda k: max(latest[a][k].step, latest[b][k].step))
    return latest[a][key], latest[b][key]
