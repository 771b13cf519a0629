"""Tabular exports written with polars."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from quanttui.core.stepstats import StepStats

# Columns every sweep.csv has, in this order; error classes follow as err_<class>.
SWEEP_COLUMNS = (
    "variant", "precision", "conc", "requests", "errors", "tok_s", "ttft_p50_ms", "ttft_p95_ms",
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
    if column in {"variant", "precision", "slo_metric"}:
        return pl.String()
    if column in {"conc", "requests", "ok", "errors", "step", "output_tokens", "tokens_estimated"}:
        return pl.Int64()
    if column.startswith("err_"):
        return pl.Int64()
    if column == "slo_met":
        return pl.Boolean()
    return pl.Float64()


def write_sweep_csv(rows: list[StepStats], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_frame(rows).write_csv(path)
