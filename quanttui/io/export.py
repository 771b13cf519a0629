"""Exports: every file meant for people (CSV, markdown, JSON) is written through here, with control
characters and bidi overrides made visible (core/literal.visible_controls), so `cat` or `head` of
any export in a terminal shows text and runs nothing; tables are written with polars.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from quanttui.core.literal import visible_controls
from quanttui.core.stepstats import StepStats

# Columns every sweep.csv has, in this order; error classes follow as err_<class>.
SWEEP_COLUMNS = (
    "variant", "precision", "conc", "rate", "input_tokens", "requests", "errors", "tok_s", "input_tok_s",
    "ttft_p50_ms", "ttft_p95_ms",
    "itl_p95_ms", "tpot_p50_ms", "p50_ms", "p95_ms", "p99_ms", "kv_cache_peak", "gpu_mem_peak_mib",
)  # fmt: skip


def sweep_frame(rows: list[StepStats]) -> pl.DataFrame:
    records = [r.row() for r in rows]
    error_columns = sorted({k for rec in records for k in rec if k.startswith("err_")})
    rest = [k for k in (records[0] if records else {}) if k not in SWEEP_COLUMNS and not k.startswith("err_")]
    columns = list(SWEEP_COLUMNS) + rest + error_columns
    data = {col: [rec.get(col, 0 if col.startswith("err_") else None) for rec in records] for col in columns}
    schema = {col: _dtype(col) for col in columns}
    return pl.DataFrame(data, schema=schema)


def _dtype(column: str) -> pl.DataType:
    if column in {"variant", "precision", "slo_metric", "slo_decision", "queue_detail"}:
        return pl.String()
    if column in {
        "conc",
        "requests",
        "ok",
        "errors",
        "step",
        "output_tokens",
        "tokens_estimated",
        "usage_chunk_mismatch",
        "input_tokens",
        "prompt_tokens",
    }:
        return pl.Int64()
    if column.startswith("err_"):
        return pl.Int64()
    if column in {"slo_met", "client_bound", "behind", "queue_growing"}:
        return pl.Boolean()
    return pl.Float64()


def write_text_export(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(visible_controls(text), encoding="utf-8")


def write_csv_export(frame: pl.DataFrame, path: Path) -> None:
    write_text_export(path, frame.write_csv())


def write_json_export(path: Path, data: object) -> None:
    """JSON keeps every text exactly: ASCII-escaped (\\u001b, \\u202e), which no terminal runs."""
    write_text_export(path, json.dumps(data, indent=2) + "\n")


def write_sweep_csv(rows: list[StepStats], path: Path) -> None:
    write_csv_export(sweep_frame(rows), path)
