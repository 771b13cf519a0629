"""The verdict of a run: every variant's capacity (merged over trials) and the capacity sentences.

The summary, the report and the console all call `run_verdict` on the fold's step statistics, so
they say the same thing in the same words (core/capacity.py's vocabulary). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from quanttui.core.capacity import VariantCapacity, capacity_sentence, variant_capacity
from quanttui.core.fleet import fleet_sentence
from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import LoadPlan, SloMetric
from quanttui.core.stepstats import StepStats


@dataclass(frozen=True)
class Verdict:
    capacities: tuple[VariantCapacity, ...]  # the baseline (BF16) first; merged over trials
    per_trial: tuple[tuple[VariantCapacity, ...], ...]  # trial -> capacities in the same order
    sentences: tuple[str, ...]  # one per variant other than the baseline
    schedule: str  # "simultaneous" or "alternate": how the steps were run
    busy_steps: int  # steps that ran on a busy host (noise)
    client_bound_steps: int = 0  # steps whose load client could have bent the latencies
    fleet_sentences: tuple[str, ...] = ()  # one per variant served by several replicas (core/fleet.py)


def baseline_first(names: Sequence[str], precisions: dict[str, str]) -> list[str]:
    """The BF16 baseline first, then the others in recorded order."""
    base = next(
        (n for n in names if "bf16" in (precisions.get(n, "") + n).lower()), names[0] if names else None
    )
    return [base, *[n for n in names if n != base]] if base else []


def merge_trials(caps: Sequence[VariantCapacity]) -> VariantCapacity:
    """One capacity from several trials: theirs when all decided the same, else undecided with the spread."""
    first = caps[0]
    if len(caps) == 1:
        return first
    same = {(c.status, c.max_conc_meeting_slo, c.first_conc_over_slo) for c in caps}
    if len(same) == 1 and first.decided:
        return replace(first, why=f"the same in all {len(caps)} trials")
    spread = "; ".join(f"trial {i + 1}: {c.holds_text()}" for i, c in enumerate(caps))
    holds = [c.max_conc_meeting_slo for c in caps]
    lowest = None if None in holds else min(h for h in holds if h is not None)
    return replace(
        first, status="undecided", max_conc_meeting_slo=lowest, first_conc_over_slo=None,
        why=f"the trials disagree ({spread})",
    )  # fmt: skip


def run_verdict(
    rows: Sequence[StepStats],
    names: Sequence[str],
    precisions: dict[str, str],
    plan: LoadPlan | None,
    where: str,
    metric: SloMetric | None = None,
) -> Verdict:
    slo = plan.slo if plan else None
    metric = metric or (slo.metric if slo else SloMetric.E2E)
    slo_ms = slo.p95_ms if slo else None
    percentile = slo.percentile if slo else 95.0
    confidence = plan.confidence if plan else 0.95
    ordered = baseline_first(list(names), precisions)
    trials = sorted({r.trial for r in rows}) or [0]
    per_trial = tuple(
        tuple(
            variant_capacity(n, [r for r in rows if r.trial == t], metric, slo_ms, percentile, confidence)
            for n in ordered
        )
        for t in trials
    )
    merged = tuple(merge_trials([caps[i] for caps in per_trial]) for i in range(len(ordered)))
    sentences = tuple(capacity_sentence(where, merged[0], other) for other in merged[1:]) if merged else ()
    return Verdict(
        capacities=merged,
        per_trial=per_trial,
        sentences=sentences,
        schedule=plan.schedule.value if plan else "simultaneous",
        busy_steps=sum(1 for r in rows if r.host_busy),
        client_bound_steps=sum(1 for r in rows if r.client_bound),
    )


def where_measured(gpu_names: set[str]) -> str:
    gpus = sorted(gpu_names)
    return gpus[0] if gpus else "this CPU (no GPU)"


def fold_verdict(fold: SessionFold, metric: SloMetric | None = None) -> Verdict:
    """The verdict of everything a session's fold has seen, with the SLO in force."""
    agg = fold.aggregator
    precisions = {name: state.info.precision for name, state in agg.variants.items()}
    verdict = run_verdict(
        fold.all_step_stats(),
        list(agg.variants),
        precisions,
        fold.plan,
        where_measured(agg.gpu_names),
        metric,
    )
    return with_fleets(fold, verdict)


def with_fleets(fold: SessionFold, verdict: Verdict) -> Verdict:
    """The verdict with a sentence per fleet: its capacity, and that capacity per replica."""
    sentences = []
    for cap in verdict.capacities:
        replicas = fold.replicas(cap.variant)
        if len(replicas) < 2:
            continue
        held = cap.max_conc_meeting_slo
        step = next(
            (s.step for s in fold.all_step_stats() if s.variant == cap.variant and s.level == held), None
        )
        rows = fold.replica_rows(cap.variant, step) if step is not None else []
        sentences.append(fleet_sentence(cap, len(replicas), rows))
    return replace(verdict, fleet_sentences=tuple(sentences))
