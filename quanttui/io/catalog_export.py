"""Writes the failure catalog: markdown (to read), CSV (polars; one row per prompt x variant) and
JSON (everything, for scripts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from quanttui.core.catalog import CatalogPrompt, catalog_json, catalog_rows, render_markdown
from quanttui.core.triage import Divergence, Tag, TriageOutput
from quanttui.core.triage_state import TriageState
from quanttui.io.export import write_csv_export, write_json_export, write_text_export
from quanttui.io.recording_file import fold_recording
from quanttui.io.tag_journal import journals_of, load_journal

NAMES = ("failure_catalog.md", "failure_catalog.csv", "failure_catalog.json")


def write_catalog(
    out_dir: Path,
    title: str,
    context: str,
    prompts: Sequence[CatalogPrompt],
    variants: Sequence[str],
    outputs: Sequence[TriageOutput],
    tags: Mapping[tuple[str, str], Tag],
    divergences: Sequence[Divergence] = (),
    formats: Sequence[str] = ("md", "csv", "json"),
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if "md" in formats:
        path = out_dir / NAMES[0]
        write_text_export(
            path, render_markdown(title, context, prompts, variants, outputs, tags, divergences)
        )
        written.append(path)
    if "csv" in formats:
        path = out_dir / NAMES[1]
        write_csv_export(_frame(prompts, variants, outputs, tags, divergences), path)
        written.append(path)
    if "json" in formats:
        path = out_dir / NAMES[2]
        data = catalog_json(prompts, variants, outputs, tags, divergences)
        write_json_export(path, data)
        written.append(path)
    return written


def _frame(
    prompts: Sequence[CatalogPrompt],
    variants: Sequence[str],
    outputs: Sequence[TriageOutput],
    tags: Mapping[tuple[str, str], Tag],
    divergences: Sequence[Divergence],
) -> pl.DataFrame:
    by_key = {(o.prompt_id, o.variant): o for o in outputs}
    div = {(d.prompt_id, d.variant): d for d in divergences}
    records = []
    for row in catalog_rows(prompts, variants, outputs, tags):
        for variant in variants:
            cell, output, d = (
                row.cells[variant],
                by_key.get((row.prompt_id, variant)),
                div.get((row.prompt_id, variant)),
            )
            records.append({
                "prompt_id": row.prompt_id, "category": row.category, "variant": variant,
                "verdict": cell.verdict or "", "symptom": cell.symptom, "notes": cell.notes,
                "flags": ";".join(cell.flags), "finish_reason": output.finish_reason if output else None,
                "output_tokens": output.output_tokens if output else None,
                "mean_kl": d.mean_kl if d else None, "top1_agreement": d.top1_agreement if d else None,
                "output": output.text if output else "",
            })  # fmt: skip
    schema = {"prompt_id": pl.String, "category": pl.String, "variant": pl.String, "verdict": pl.String,
              "symptom": pl.String, "notes": pl.String, "flags": pl.String, "finish_reason": pl.String,
              "output_tokens": pl.Int64, "mean_kl": pl.Float64, "top1_agreement": pl.Float64,
              "output": pl.String}  # fmt: skip
    return pl.DataFrame(records, schema=schema)


def export_triage(state: TriageState, out: Path, formats: Sequence[str], title: str) -> list[Path]:
    variants = list(state.variants)
    reference = state.reference
    if reference in variants:
        variants.remove(reference)
        variants.insert(0, reference)
    prompts = [
        CatalogPrompt(r.prompt.prompt_id, r.prompt.category, r.prompt_text) for r in state.rows.values()
    ]
    counts = state.counts()
    context = (
        f"{counts['prompts']} prompts on {', '.join(variants)} (reference {reference}); "
        f"{counts['flagged']} with automatic flags, {counts['untagged']} not fully tagged."
    )
    return write_catalog(out, title, context, prompts, variants, state.outputs(), state.tags,
                         state.divergences(), formats)  # fmt: skip


def load_triage(recording: Path) -> tuple[TriageState, list[str]]:
    """A triage as its recording and journals hold it: the answers, flags, divergences and every
    tag (a journal outlives a recording cut by a crash); plus the journals' warnings."""
    folded = fold_recording(recording)
    state = folded.fold.triage
    warnings: list[str] = []
    for journal in journals_of(recording):
        loaded = load_journal(journal)
        state.load_tags(loaded.tags)
        warnings += loaded.warnings
    return state, warnings
