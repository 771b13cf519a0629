"""The run summary: one JSON-able dict built from the recording header and the session's fold.

Live sweeps and `quanttui replay --headless` call the same function on the same events, so
their summaries are equal; nothing here reads a clock or a file.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from quanttui import __version__
from quanttui.core.capacity import variant_capacity
from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import LoadPlan, SloMetric
from quanttui.core.stepstats import StepStats

SUMMARY_FORMAT = "quanttui-summary"


def _variant_capacity(name: str, rows: list[StepStats], plan: LoadPlan | None) -> dict[str, Any]:
    """Largest concurrency meeting the SLO, the first that did not and why, and where p95 bends."""
    metric = (
        plan.slo.metric
        if plan and plan.slo
        else SloMetric(rows[0].slo_metric or "e2e")
        if rows
        else SloMetric.E2E
    )
    slo_ms = plan.slo.p95_ms if plan and plan.slo else None
    cap = variant_capacity(name, rows, metric, slo_ms)
    return {
        "max_conc_meeting_slo": cap.max_conc_meeting_slo,
        "first_conc_over_slo": cap.first_conc_over_slo,
        "slo_metric": rows[0].slo_metric if rows else None,
        "slo_breach": cap.breach or None,
        "p95_bends_at_conc": cap.blowup_conc,
        "p95_bend_detail": cap.blowup_detail,
    }


def build_summary(header_config: dict[str, Any], fold: SessionFold) -> dict[str, Any]:
    agg = fold.aggregator
    rows = fold.all_step_stats()
    variants: list[dict[str, Any]] = []
    for name, state in agg.variants.items():
        own = [r for r in rows if r.variant == name]
        tok_rates = [r.tok_s for r in own if r.tok_s is not None]
        variants.append(
            {
                "name": name,
                "url": state.info.url,
                "model": state.info.model,
                "precision": state.info.precision,
                "requests": state.requests,
                "warmup_requests": state.warmup_requests,
                "errors": sum(state.errors_by_class.values()),
                "errors_by_class": dict(sorted(state.errors_by_class.items())),
                "peak_tok_s": max(tok_rates) if tok_rates else None,
                "steps_run": len(own),
                "retired": (
                    {"step": state.retired.step, "rule": state.retired.rule, "detail": state.retired.detail}
                    if state.retired
                    else None
                ),
                **_variant_capacity(name, own, agg.plan),
            }
        )
    return {
        "format": SUMMARY_FORMAT,
        "quanttui": __version__,
        "plan": header_config.get("plan"),
        "sweep": {
            "reason": agg.sweep_end.reason if agg.sweep_end else "unfinished",
            "steps": len(agg.steps),
            "duration_s": round(agg.sweep_end.t, 3) if agg.sweep_end else round(agg.last_t, 3),
        },
        "gpu": {
            "available": agg.gpu_unavailable is None and bool(agg.gpu_names),
            "reason": agg.gpu_unavailable,
            "names": sorted(agg.gpu_names),
        },
        "variants": variants,
        "steps": [asdict(r) for r in rows],
    }
