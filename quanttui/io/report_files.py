"""`quanttui report`: a recording (and optionally a triage recording) in, report files out.

Everything is computed from the recordings alone (the header's configuration, hardware facts
and the events), so a sweep recorded on the GPU box can be reported anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from quanttui.core.aggregate import Aggregator
from quanttui.core.capacity import VariantCapacity, variant_capacity
from quanttui.core.cost import CostInputs
from quanttui.core.events import EngineCapacity, GpuSample, ReplayReset
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric
from quanttui.core.recording import plan_from_header
from quanttui.core.report import ReportInputs, TriageFacts, business_case_md, capacity_md, cost_md
from quanttui.core.roofline import roofline
from quanttui.core.triage_state import TriageState
from quanttui.io.catalog_export import load_triage
from quanttui.io.export import write_sweep_csv
from quanttui.io.recording_file import open_recording

REPORT_FILES = ("sweep.csv", "concurrency_sweep.csv", "capacity.md", "cost_model.md", "business_case.md")


@dataclass(frozen=True)
class ReportOptions:
    gpu_usd_per_hour: float | None = None  # else the recording's [cost]
    tokens_per_day: float | None = None
    utilization: float | None = None
    slo_p95_ms: float | None = None  # else the recording's plan
    slo_metric: str | None = None
    bandwidth_gbps: float | None = None  # else the recording's hardware facts


@dataclass
class _Read:
    aggregator: Aggregator
    kv_tokens: dict[str, int]
    memory_total_mib: float | None
    header: dict[str, Any]
    warnings: list[str]


def _read(path: Path, plan: LoadPlan | None) -> _Read:
    recording, events = open_recording(path)
    aggregator = Aggregator(plan)
    kv: dict[str, int] = {}
    memory = None
    for event in events:
        if isinstance(event, ReplayReset):
            continue
        aggregator.consume(event)
        if isinstance(event, EngineCapacity) and event.kv_cache_tokens:
            kv[event.variant] = event.kv_cache_tokens
        if isinstance(event, GpuSample):
            memory = event.mem_total_mib
    return _Read(aggregator, kv, memory, recording.header.config, list(getattr(recording, "warnings", [])))


def _plan(header: Any, path: Path, options: ReportOptions) -> tuple[LoadPlan | None, SloMetric, float | None]:
    plan = plan_from_header(header, path)
    metric = (
        SloMetric(options.slo_metric)
        if options.slo_metric
        else (plan.slo.metric if plan and plan.slo else SloMetric.E2E)
    )
    slo_ms = options.slo_p95_ms or (plan.slo.p95_ms if plan and plan.slo else None)
    if plan is not None and slo_ms:
        plan = replace(plan, slo=Slo(slo_ms, metric))
    return plan, metric, slo_ms


def _triage_facts(state: TriageState) -> TriageFacts | None:
    if not state.rows:
        return None
    issues: dict[str, dict[str, int]] = {}
    flagged: dict[str, dict[str, int]] = {}
    per_category: dict[str, int] = {}
    for row in state.rows.values():
        category = row.prompt.category
        per_category[category] = per_category.get(category, 0) + 1
        for variant, answer in row.answers.items():
            tag = state.tags.get((row.prompt.prompt_id, variant))
            if tag is not None and tag.is_issue:
                issues.setdefault(variant, {})[category] = issues.setdefault(variant, {}).get(category, 0) + 1
            if answer.flags:
                flagged.setdefault(variant, {})[category] = (
                    flagged.setdefault(variant, {}).get(category, 0) + 1
                )
    kl: dict[str, list[float]] = {}
    top1: dict[str, list[float]] = {}
    for d in state.divergences():
        if d.mean_kl is not None and d.top1_agreement is not None:
            kl.setdefault(d.variant, []).append(d.mean_kl)
            top1.setdefault(d.variant, []).append(d.top1_agreement)
    return TriageFacts(
        prompts=len(state.rows), issues=issues, flagged=flagged, per_category=per_category,
        mean_kl={v: sum(x) / len(x) for v, x in kl.items()}, top1={v: sum(x) / len(x) for v, x in top1.items()},
    )  # fmt: skip


def _order(names: Sequence[str], precisions: dict[str, str]) -> list[str]:
    """The BF16 baseline first, then the others in recorded order."""
    base = next(
        (n for n in names if "bf16" in (precisions.get(n, "") + n).lower()), names[0] if names else None
    )
    return [base, *[n for n in names if n != base]] if base else []


def concurrency_frame(rows: Sequence[Any], capacities: Sequence[VariantCapacity]) -> pl.DataFrame:
    """One row per concurrency, columns per variant: tok/s and p95 side by side."""
    metric = SloMetric(capacities[0].metric) if capacities else SloMetric.E2E
    concs = sorted({r.conc for r in rows})
    records = []
    for conc in concs:
        record: dict[str, Any] = {"conc": conc}
        for cap in capacities:
            row = next((r for r in rows if r.variant == cap.variant and r.conc == conc), None)
            record[f"{cap.variant}_tok_s"] = row.tok_s if row else None
            record[f"{cap.variant}_p95_{metric.value}_ms"] = row.slo_value_ms(metric) if row else None
            record[f"{cap.variant}_slo_met"] = row.slo_met if row else None
        records.append(record)
    return pl.DataFrame(records, infer_schema_length=None)


def build_report(
    recording: Path, out_dir: Path, options: ReportOptions, triage_recording: Path | None = None
) -> list[Path]:
    opening, _ = open_recording(recording)
    plan, metric, slo_ms = _plan(opening.header, recording, options)
    read = _read(recording, plan)
    header = read.header
    rows = read.aggregator.all_step_stats()
    precisions = {name: state.info.precision for name, state in read.aggregator.variants.items()}
    names = _order(list(read.aggregator.variants), precisions)
    capacities = [variant_capacity(n, rows, metric, slo_ms) for n in names]
    hardware = header.get("hardware") or {}
    bandwidth = options.bandwidth_gbps or hardware.get("memory_bandwidth_gbps")
    source = "given" if options.bandwidth_gbps else hardware.get("bandwidth_source", "unknown")
    weights = {
        v.get("name"): v.get("weights_bytes") for v in header.get("variants", []) if isinstance(v, dict)
    }
    rooflines = [
        roofline(c.variant, bandwidth, source, weights.get(c.variant), c.batch1_tok_s) for c in capacities
    ]
    cost_cfg = header.get("cost") or {}
    usd = options.gpu_usd_per_hour or cost_cfg.get("gpu_usd_per_hour")
    cost = None
    if usd:
        cost = CostInputs(
            gpu_usd_per_hour=float(usd),
            tokens_per_day=options.tokens_per_day or cost_cfg.get("tokens_per_day"),
            utilization=options.utilization or cost_cfg.get("utilization", 0.7),
        )
    triage_state, _ = load_triage(triage_recording or recording)  # with the tags of its journals
    gpus = sorted(read.aggregator.gpu_names)
    where = gpus[0] if gpus else "this CPU (no GPU)"
    inputs = ReportInputs(
        title=recording.name, where=where, rows=rows, capacities=capacities, rooflines=rooflines, cost=cost,
        triage=_triage_facts(triage_state), kv_tokens=read.kv_tokens, memory_total_mib=read.memory_total_mib,
    )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in REPORT_FILES]
    write_sweep_csv(rows, paths[0])
    concurrency_frame(rows, capacities).write_csv(paths[1])
    paths[2].write_text(capacity_md(inputs), encoding="utf-8")
    paths[3].write_text(cost_md(inputs), encoding="utf-8")
    paths[4].write_text(business_case_md(inputs), encoding="utf-8")
    return paths
