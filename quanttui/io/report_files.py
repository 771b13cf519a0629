"""`quanttui report`: a recording (and optionally a triage recording) in, report files out.

Everything is computed from the recordings alone (the header's configuration, hardware facts
and the events, folded by the session's fold, operator SLO changes included), so a sweep recorded
on the GPU box can be reported anywhere. A console writes the same files from its session's fold.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from quanttui.core.capacity import VariantCapacity
from quanttui.core.compute_words import compute_markdown
from quanttui.core.cost import CostInputs
from quanttui.core.fold import SessionFold
from quanttui.core.levels import LevelKind
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric
from quanttui.core.recording import plan_from_header
from quanttui.core.report import (
    ReportInputs,
    TriageFacts,
    business_case_md,
    capacity_md,
    cost_md,
)
from quanttui.core.report_data import report_data, triage_summary
from quanttui.core.roofline import roofline
from quanttui.core.run_summary import compare_run
from quanttui.core.triage_state import TriageState
from quanttui.core.verdict import fold_verdict, where_measured
from quanttui.io.catalog_export import load_triage
from quanttui.io.export import write_csv_export, write_json_export, write_sweep_csv, write_text_export
from quanttui.io.recording_file import fold_recording, open_recording
from quanttui.io.report_html import render_report_html
from quanttui.io.report_palette import REPORT_THEME, load_palette

COMPUTE_FILE = "compute_graphs.md"  # written when the session profiled its variants
RUN_FILE = "report.json"  # the run as `quanttui compare` reads it (core/compare.py)
REPLICAS_FILE = "replicas.csv"  # fleets only: each step's requests by replica
REPORT_FILES = ("sweep.csv", "concurrency_sweep.csv", "capacity.md", "cost_model.md", "business_case.md")


class ReportOptionError(ValueError):
    """A report option the recording cannot honour (a level it never ran); one line."""


@dataclass(frozen=True)
class ReportOptions:
    gpu_usd_per_hour: float | None = None  # else the recording's [cost]
    tokens_per_day: float | None = None
    utilization: float | None = None
    slo_p95_ms: float | None = None  # else the recording's plan
    slo_metric: str | None = None
    bandwidth_gbps: float | None = None  # else the recording's hardware facts
    theme: str = REPORT_THEME  # report.html's colours
    dist_level: float | None = None  # the distributions' step (else each variant's largest within the SLO)
    html: bool = True


def pinned_slo(options: ReportOptions, plan: LoadPlan | None) -> Slo | None:
    """The reader's own SLO when the options give one (it then overrides the recording's SLO and
    any operator change in it); None: the recording's SLO as the operator left it."""
    if options.slo_p95_ms is None and options.slo_metric is None:
        return None
    slo_ms = options.slo_p95_ms or (plan.slo.p95_ms if plan and plan.slo else None)
    if not slo_ms:
        return None
    metric = (
        SloMetric(options.slo_metric)
        if options.slo_metric
        else (plan.slo.metric if plan and plan.slo else SloMetric.E2E)
    )
    return Slo(slo_ms, metric)


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


def concurrency_frame(rows: Sequence[Any], capacities: Sequence[VariantCapacity]) -> pl.DataFrame:
    """One row per level of the ramp (concurrency, rate or prompt length; the first column says
    which), columns per variant: tok/s, input tok/s and the SLO percentile side by side; a rate
    ramp adds each variant's send lag p99 and whether its queue was still growing."""
    metric = SloMetric(capacities[0].metric) if capacities else SloMetric.E2E
    kind = rows[0].level_kind if rows else LevelKind.CONCURRENCY
    column = {
        LevelKind.CONCURRENCY: "conc",
        LevelKind.RATE: "rate_req_s",
        LevelKind.INPUT_TOKENS: "input_tokens",
    }[kind]
    levels = sorted({r.level for r in rows})
    records = []
    for level in levels:
        record: dict[str, Any] = {column: int(level) if kind is not LevelKind.RATE else level}
        for cap in capacities:
            row = next((r for r in rows if r.variant == cap.variant and r.level == level), None)
            record[f"{cap.variant}_tok_s"] = row.tok_s if row else None
            record[f"{cap.variant}_input_tok_s"] = row.input_tok_s if row else None
            record[f"{cap.variant}_p95_{metric.value}_ms"] = row.slo_value_ms(metric) if row else None
            if kind is LevelKind.INPUT_TOKENS:
                record[f"{cap.variant}_ttft_p50_ms"] = row.ttft_p50_ms if row else None
            record[f"{cap.variant}_slo_decision"] = row.slo_decision if row else None
            if kind is LevelKind.RATE:
                record[f"{cap.variant}_lag_p99_ms"] = row.lag_p99_ms if row else None
                record[f"{cap.variant}_queue_growing"] = row.queue_growing if row else None
        records.append(record)
    return pl.DataFrame(records, infer_schema_length=None)


def build_report(
    recording: Path, out_dir: Path, options: ReportOptions, triage_recording: Path | None = None
) -> list[Path]:
    """The report files of a recording (folded as a replay would), with the triage and its journals'
    tags from `triage_recording` (else from the same recording)."""
    opening, _ = open_recording(recording)
    pinned = pinned_slo(options, plan_from_header(opening.header, recording))
    folded = fold_recording(recording, pinned)
    triage_state, _ = load_triage(triage_recording or recording)  # with the tags of its journals
    paths = write_report(folded.fold, folded.header.config, recording.name, out_dir, options, triage_state)
    profiles = folded.fold.compute.profiles.values()
    copy_traces(recording, out_dir, [Path(p.trace).name for p in profiles])  # only the ones it names
    return paths


def write_report(
    fold: SessionFold,
    header: dict[str, Any],
    title: str,
    out_dir: Path,
    options: ReportOptions,
    triage_state: TriageState,
    traces_dir: str = "traces",
) -> list[Path]:
    """The report files from a session's fold: the same for a live session's "Write report", a
    replay's and `quanttui report`'s. report.html comes last."""
    written, draw_page = write_report_files(fold, header, title, out_dir, options, triage_state, traces_dir)
    return [*written, draw_page()] if draw_page else written


def write_report_files(
    fold: SessionFold,
    header: dict[str, Any],
    title: str,
    out_dir: Path,
    options: ReportOptions,
    triage_state: TriageState,
    traces_dir: str = "traces",
) -> tuple[list[Path], Callable[[], Path] | None]:
    """The markdown, CSV and JSON files, written now from the fold; and report.html to draw, from
    a snapshot of the fold, so a live session can have it drawn off its loop (None: no HTML)."""
    metric = SloMetric(options.slo_metric) if options.slo_metric else fold.slo_metric
    rows = fold.all_step_stats()
    if options.dist_level is not None and not any(abs(r.level - options.dist_level) < 1e-9 for r in rows):
        levels = ", ".join(f"{level:g}" for level in sorted({r.level for r in rows})) or "none"
        raise ReportOptionError(
            f"--dist-level {options.dist_level:g}: no step ran at that level (levels: {levels})"
        )
    palette = load_palette(options.theme) if options.html else None  # a bad theme before any file
    verdict = fold_verdict(fold, metric)
    capacities = list(verdict.capacities)
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
    inputs = ReportInputs(
        title=title, where=where_measured(fold.aggregator.gpu_names), rows=rows, capacities=capacities,
        rooflines=rooflines, cost=cost, verdict=verdict,
        triage=_triage_facts(triage_state), kv_tokens=dict(fold.kv_tokens),
        memory_total_mib=fold.memory_total_mib,
        traffic=fold.plan.describe_traffic(str(header.get("prompts") or "—")) if fold.plan else "",
        replica_rows=fold.all_replica_rows(), replica_events=tuple(fold.replica_events),
    )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in REPORT_FILES]
    markdown = {
        "capacity": capacity_md(inputs),
        "cost": cost_md(inputs),
        "business_case": business_case_md(inputs),
    }
    write_sweep_csv(rows, paths[0])
    write_csv_export(concurrency_frame(rows, capacities), paths[1])
    write_text_export(paths[2], markdown["capacity"])
    write_text_export(paths[3], markdown["cost"])
    write_text_export(paths[4], markdown["business_case"])
    compute = write_compute(fold, out_dir, traces_dir)
    written = [*paths, compute] if compute else list(paths)
    if inputs.replica_rows:
        replicas = out_dir / REPLICAS_FILE
        write_csv_export(pl.DataFrame([asdict(row) for row in inputs.replica_rows]), replicas)
        written.append(replicas)
    run = compare_run(
        fold, verdict, header, inputs.where, title, title, cost.gpu_usd_per_hour if cost else None
    )
    write_json_export(out_dir / RUN_FILE, run.to_json())
    written.append(out_dir / RUN_FILE)
    if palette is None:
        return written, None
    if compute:
        markdown["compute"] = compute.read_text(encoding="utf-8")
    data = report_data(fold, inputs, options.dist_level, markdown, triage_summary(triage_state))
    return written, lambda: render_report_html(data, palette, out_dir, source=title)


def write_compute(fold: SessionFold, out_dir: Path, traces_dir: str = "traces") -> Path | None:
    """compute_graphs.md from the profiles the fold holds (None when the session profiled nothing).
    The variants keep the session's order (the first is the baseline the bullets compare against);
    `traces_dir`: where the traces are, relative to `out_dir` (the console's report/ folder: ../traces)."""
    compute = fold.compute
    if not compute.profiles and not compute.unavailable:
        return None
    order = tuple(fold.aggregator.variants)  # the EndpointInfo order
    path = out_dir / COMPUTE_FILE
    problems = {name: compute.problem(name) or "" for name in compute.unavailable}
    markdown = compute_markdown(compute.variants(order), compute.request, problems, traces_dir)
    write_text_export(path, markdown)
    return path


def copy_traces(recording: Path, out_dir: Path, names: Sequence[str]) -> None:
    """A report written away from the recording's folder takes the raw traces along (traces/)."""
    source = recording.parent / "traces"
    target = out_dir / "traces"
    if not source.is_dir() or source.resolve() == target.resolve():
        return
    for name in names:
        trace = source / name
        if trace.is_file() and not (target / trace.name).exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(trace, target / trace.name)
