"""The run summary: one JSON-able dict built from the recording header and the session's fold.

Live sweeps and `quanttui replay --headless` call the same function on the same events, so
their summaries are equal; nothing here reads a clock or a file.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from quanttui import __version__
from quanttui.core.capacity import VariantCapacity
from quanttui.core.fold import SessionFold
from quanttui.core.verdict import fold_verdict

SUMMARY_FORMAT = "quanttui-summary"


def _capacity_fields(cap: VariantCapacity | None) -> dict[str, Any]:
    """What the ramp decided for one variant (core/capacity.py's vocabulary), and where p95 bends."""
    if cap is None:
        return {}
    return {
        "max_conc_meeting_slo": cap.max_conc_meeting_slo,
        "first_conc_over_slo": cap.first_conc_over_slo,
        "capacity_status": cap.status,
        "capacity": cap.holds_text(),
        "capacity_why": cap.why or None,
        "slo_metric": cap.metric if cap.slo_ms is not None else None,
        "slo_breach": cap.breach or None,
        "p95_bends_at_conc": cap.blowup_conc,  # in the ramp's unit ("ramp"), despite its name
        "p95_bends_at": cap.at(cap.blowup_conc) if cap.blowup_conc is not None else None,
        "ramp": cap.kind.value,
        "p95_bend_detail": cap.blowup_detail,
    }


def _fleet_fields(fold: SessionFold, name: str) -> dict[str, Any]:
    """A fleet's replicas: each one's measured requests and errors over the run (with the share it
    took), and its numbers in each step; nothing for a variant of one endpoint."""
    replicas = fold.replicas(name)
    if not replicas:
        return {}
    steps = [row for step in sorted(fold.aggregator.steps) for row in fold.replica_rows(name, step)]
    total = sum(row.requests for row in steps)
    each = []
    for url in replicas:
        mine = [row for row in steps if row.replica == url]
        requests = sum(row.requests for row in mine)
        each.append({
            "url": url,
            "requests": requests,
            "errors": sum(row.errors for row in mine),
            "share": round(requests / total, 4) if total else None,
        })  # fmt: skip
    return {"replicas": each, "replica_steps": [asdict(row) for row in steps]}


def build_summary(header_config: dict[str, Any], fold: SessionFold) -> dict[str, Any]:
    agg = fold.aggregator
    rows = fold.all_step_stats()
    verdict = fold_verdict(fold)
    capacity = {c.variant: c for c in verdict.capacities}
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
                **_capacity_fields(capacity.get(name)),
                **_fleet_fields(fold, name),
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
            # a GPU source answered and had not failed by the end (local NVML, a DCGM exporter or
            # Prometheus); `reason`: each source that could not be read then
            "available": bool(agg.gpu_up),
            "reason": agg.gpu_unavailable,
            "names": sorted(agg.gpu_names),
        },
        "variants": variants,
        "verdict": {
            "sentences": list(verdict.sentences),
            "schedule": verdict.schedule,
            "confidence": fold.plan.confidence if fold.plan else None,
            "busy_steps": verdict.busy_steps,
            "client_bound_steps": verdict.client_bound_steps,
            "trials": len(verdict.per_trial),
            "fleet_sentences": list(verdict.fleet_sentences),
        },
        "steps": [asdict(r) for r in rows],
    }
