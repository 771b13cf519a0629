"""A session's fold as one run of a comparison (`CompareRun`): what `quanttui compare` reads from a
recording and what `quanttui report` writes as report.json, so both give the same run."""

from __future__ import annotations

from typing import Any

from quanttui.core.compare_run import CompareRun, LevelPoint
from quanttui.core.fold import SessionFold
from quanttui.core.levels import LevelKind
from quanttui.core.loadplan import LoadPlan, SloMetric
from quanttui.core.stepstats import StepStats
from quanttui.core.verdict import Verdict


def run_settings(plan: LoadPlan | None, config: dict[str, Any]) -> dict[str, str]:
    """The settings two runs must share to be compared like for like."""
    slo = plan.slo if plan else None
    request = config.get("request") if isinstance(config.get("request"), dict) else {}
    settings = {"SLO": f"p{slo.percentile:g} {slo.metric.value} <= {slo.p95_ms:,.0f} ms" if slo else "none"}
    if plan is None:
        return settings | {"output tokens": str(request.get("max_tokens", "—"))}
    workload = {LevelKind.CONCURRENCY: "closed loop (concurrent users)",
                LevelKind.RATE: f"open loop ({plan.arrivals.describe()})",
                LevelKind.INPUT_TOKENS: "prompt lengths"}[plan.kind]  # fmt: skip
    if plan.prefix_tokens:
        workload += f", shared prefix of {plan.prefix_tokens:,} tokens"
    if plan.own_history:
        workload += ", own history"
    output = (
        plan.output_lengths.describe()
        if plan.output_lengths is not None
        else f"{request.get('max_tokens', '—')}" + (" (ignore_eos)" if request.get("ignore_eos") else "")
    )
    prompts = str(config.get("prompts") or "—")
    if plan.prompt_lengths is not None:
        prompts = f"synthetic, {plan.prompt_lengths.describe()}"
    return settings | {
        "workload": workload,
        "output tokens": output,
        "prompts": prompts,
        "schedule": plan.schedule.value,
    }


def level_point(row: StepStats, metric: str) -> LevelPoint:
    if row.slo_pct_ms is not None and row.slo_metric == metric:
        pct, lo, hi = row.slo_pct_ms, row.slo_pct_ms_lo, row.slo_pct_ms_hi
    else:
        pct, lo, hi = row.slo_value_ms(SloMetric(metric)), None, None
        if metric == "e2e":
            lo, hi = row.p95_ms_lo, row.p95_ms_hi
    return LevelPoint(row.variant, row.trial, row.level, pct, lo, hi, row.slo_decision, row.tok_s,
                      row.goodput_req_s, row.req_s)  # fmt: skip


def compare_run(
    fold: SessionFold,
    verdict: Verdict,
    config: dict[str, Any],
    where: str,
    label: str,
    source: str,
    usd_per_hour: float | None,
) -> CompareRun:
    caps = verdict.capacities
    metric = caps[0].metric if caps else fold.slo_metric.value
    plan = fold.plan
    return CompareRun(
        label=label, where=where, usd_per_hour=usd_per_hour, settings=run_settings(plan, config),
        kind=caps[0].kind if caps else LevelKind.CONCURRENCY, metric=metric,
        percentile=caps[0].percentile if caps else 95.0, slo_ms=caps[0].slo_ms if caps else fold.slo_ms,
        capacities=tuple(caps), points=tuple(level_point(r, metric) for r in fold.all_step_stats()),
        sentences=verdict.sentences, source=source,
    )  # fmt: skip
