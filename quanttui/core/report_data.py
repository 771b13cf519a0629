"""What the HTML report draws, taken from a session's fold in one go.

The charts and the page are drawn from this snapshot alone, so a live console's "Write report"
reads its fold once on the session's loop and the drawing needs nothing else. Pure: no plotting,
no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from quanttui.core.capacity import VariantCapacity
from quanttui.core.catalog import CatalogPrompt, catalog_rows, telling_examples
from quanttui.core.compute_words import ProfiledVariant
from quanttui.core.cost import CostInputs, OperatingCost, operating_cost
from quanttui.core.events import RequestResult
from quanttui.core.fold import SessionFold
from quanttui.core.levels import LevelKind
from quanttui.core.report import ReportInputs, report_sentences
from quanttui.core.stepstats import StepStats
from quanttui.core.timeline import Timeline
from quanttui.core.triage_state import TriageState

EXCERPT_CHARS = 600


@dataclass(frozen=True)
class Distribution:
    """One variant's TTFT and ITL samples at one step, and why that step."""

    variant: str
    level: float
    level_text: str
    why: str  # "the largest step within the SLO", "its lowest step (none within the SLO)", "chosen"
    ttft_ms: tuple[float, ...]
    itl_ms: tuple[float, ...]


@dataclass(frozen=True)
class TellingExample:
    prompt_id: str
    category: str
    variant: str
    reference: str
    why: str  # the tag's verdict, the flags, or "divergence"
    symptom: str
    prompt: str  # an excerpt
    reference_answer: str
    answer: str
    mean_kl: float | None


@dataclass(frozen=True)
class TriageSummary:
    prompts: int
    variants: tuple[str, ...]  # the reference first
    categories: tuple[str, ...]
    flagged: dict[str, dict[str, int]]  # variant -> category -> answers with automatic flags
    issues: dict[str, dict[str, int]]  # variant -> category -> tagged issues
    mean_kl: dict[str, float]
    top1: dict[str, float]
    examples: tuple[TellingExample, ...]


@dataclass(frozen=True)
class ReportData:
    title: str
    where: str
    kind: LevelKind
    metric: str  # the SLO metric ("e2e", "ttft", ...)
    percentile: float
    slo_ms: float | None
    rows: tuple[StepStats, ...]
    capacities: tuple[VariantCapacity, ...]  # the baseline first
    sentences: tuple[str, ...]
    distributions: tuple[Distribution, ...]
    timeline: Timeline
    cost: CostInputs | None
    operating: tuple[OperatingCost, ...]  # each variant at the largest level it holds
    triage: TriageSummary | None
    profiles: tuple[ProfiledVariant, ...]
    markdown: dict[str, str] = field(default_factory=dict)  # section -> the report's markdown words

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(c.variant for c in self.capacities)


def _measured(results: Sequence[RequestResult]) -> list[RequestResult]:
    return [r for r in results if r.ok and not r.warmup]


def distributions(
    rows: Sequence[StepStats],
    capacities: Sequence[VariantCapacity],
    results: dict[tuple[str, int], list[RequestResult]],
    level: float | None = None,
) -> tuple[Distribution, ...]:
    """Each variant's TTFT and ITL at the largest step it held within the SLO (its lowest step
    when it held none), or at `level` when the reader chose one."""
    out = []
    for cap in capacities:
        mine = [r for r in rows if r.variant == cap.variant]
        if not mine:
            continue
        if level is not None:
            chosen = [r for r in mine if abs(r.level - level) < 1e-9]
            why = "the level asked for"
        elif cap.max_conc_meeting_slo is not None:
            chosen = [r for r in mine if abs(r.level - cap.max_conc_meeting_slo) < 1e-9]
            why = "the largest step within the SLO"
        else:
            lowest = min(r.level for r in mine)
            chosen = [r for r in mine if r.level == lowest]
            why = "its lowest step (no step within the SLO)" if cap.slo_ms else "its lowest step (no SLO)"
        if not chosen:
            continue
        step = chosen[-1]  # the last trial's
        measured = _measured(results.get((cap.variant, step.step), []))
        ttft = tuple(r.ttft * 1000 for r in measured if r.ttft is not None)
        itl = tuple(us / 1000 for r in measured for us in r.itl_us)
        out.append(Distribution(cap.variant, step.level, step.level_text, why, ttft, itl))
    return tuple(out)


def triage_summary(state: TriageState) -> TriageSummary | None:
    """The triage's counts by category and variant, KL per variant and the three telling examples."""
    if not state.rows:
        return None
    variants = list(state.variants)
    reference = state.reference
    if reference in variants:
        variants.remove(reference)
        variants.insert(0, reference)
    categories = tuple(dict.fromkeys(row.prompt.category for row in state.rows.values()))
    flagged: dict[str, dict[str, int]] = {v: {} for v in variants}
    issues: dict[str, dict[str, int]] = {v: {} for v in variants}
    for row in state.rows.values():
        category = row.prompt.category
        for variant, answer in row.answers.items():
            if answer.flags:
                counts = flagged.setdefault(variant, {})
                counts[category] = counts.get(category, 0) + 1
            tag = state.tags.get((row.prompt.prompt_id, variant))
            if tag is not None and tag.is_issue:
                counts = issues.setdefault(variant, {})
                counts[category] = counts.get(category, 0) + 1
    kl: dict[str, list[float]] = {}
    top1: dict[str, list[float]] = {}
    by_prompt: dict[tuple[str, str], float | None] = {}
    divergences = state.divergences()
    for d in divergences:
        by_prompt[(d.prompt_id, d.variant)] = d.mean_kl
        if d.mean_kl is not None and d.top1_agreement is not None:
            kl.setdefault(d.variant, []).append(d.mean_kl)
            top1.setdefault(d.variant, []).append(d.top1_agreement)
    examples: list[TellingExample] = []
    if len(variants) >= 2:
        prompts = [
            CatalogPrompt(r.prompt.prompt_id, r.prompt.category, r.prompt_text) for r in state.rows.values()
        ]
        rows = catalog_rows(prompts, variants, state.outputs(), state.tags)
        for row, variant in telling_examples(rows, variants, divergences):
            cell = row.cells[variant]
            why = cell.verdict if cell.verdict not in (None, "ok") else ", ".join(cell.flags) or "divergence"
            prompt_row = state.rows[row.prompt_id]
            text = prompt_row.prompt_text
            excerpt = text if len(text) <= EXCERPT_CHARS else text[:300] + "\n[…]\n" + text[-200:]
            answers = prompt_row.answers
            examples.append(
                TellingExample(
                    row.prompt_id, row.category, variant, variants[0], str(why), cell.symptom, excerpt,
                    answers[variants[0]].text if variants[0] in answers else "(no answer)",
                    answers[variant].text if variant in answers else "(no answer)",
                    by_prompt.get((row.prompt_id, variant)),
                )
            )  # fmt: skip
    return TriageSummary(
        prompts=len(state.rows), variants=tuple(variants), categories=categories, flagged=flagged,
        issues=issues, mean_kl={v: sum(x) / len(x) for v, x in kl.items()},
        top1={v: sum(x) / len(x) for v, x in top1.items()}, examples=tuple(examples),
    )  # fmt: skip


def operating_costs(
    capacities: Sequence[VariantCapacity], cost: CostInputs | None
) -> tuple[OperatingCost, ...]:
    return tuple(operating_cost(c, cost) for c in capacities) if cost is not None else ()


def report_data(
    fold: SessionFold,
    inputs: ReportInputs,
    dist_level: float | None,
    markdown: dict[str, str],
    triage: TriageSummary | None,
) -> ReportData:
    """What report.html draws, read from the fold in one go: a snapshot that shares nothing the
    fold goes on changing, so it can be drawn on another thread while a live session runs."""
    capacities = tuple(inputs.capacities)
    first = capacities[0] if capacities else None
    return ReportData(
        title=inputs.title, where=inputs.where,
        kind=first.kind if first else LevelKind.CONCURRENCY,
        metric=first.metric if first else fold.slo_metric.value,
        percentile=first.percentile if first else 95.0,
        slo_ms=first.slo_ms if first else fold.slo_ms,
        rows=tuple(inputs.rows), capacities=capacities, sentences=tuple(report_sentences(inputs)),
        distributions=distributions(inputs.rows, capacities, fold.aggregator.results, dist_level),
        timeline=fold.timeline.copy(), cost=inputs.cost, operating=operating_costs(capacities, inputs.cost),
        triage=triage, profiles=tuple(fold.compute.variants(tuple(fold.aggregator.variants))),
        markdown=dict(markdown),
    )  # fmt: skip
