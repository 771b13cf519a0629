"""Export from the console: the summary and sweep.csv as they stand now, same code as the headless run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quanttui.core.aggregate import Aggregator
from quanttui.core.summary import build_summary
from quanttui.io.export import write_sweep_csv


def write_export(
    header_config: dict[str, Any], aggregator: Aggregator, out_dir: Path, t: float
) -> list[Path]:
    """Write `export-tNNNNNs-summary.json` and `export-tNNNNNs-sweep.csv` (session time in the name,
    so an export never overwrites the session's own sweep.csv and a later export does not clash)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"t{int(t):05d}s"
    summary_path = out_dir / f"export-{stamp}-summary.json"
    csv_path = out_dir / f"export-{stamp}-sweep.csv"
    summary = build_summary(header_config, aggregator)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_sweep_csv(aggregator.all_step_stats(), csv_path)
    return [summary_path, csv_path]
