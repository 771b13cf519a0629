"""Export from the console: the summary and sweep.csv as they stand now, same code as the headless run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quanttui.core.aggregate import Aggregator
from quanttui.core.summary import build_summary
from quanttui.io.export import write_sweep_csv
from quanttui.io.report_files import ReportOptions, build_report

FORMATS = ("md", "csv", "json")  # of the failure catalog


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


def recording_path(session: Any) -> Path | None:
    """The session's recording: a replay's file, or a live session's out_dir/recording.jsonl."""
    path = getattr(session, "path", None)
    if path is None:
        config = getattr(session, "config", None)
        path = config.out_dir / "recording.jsonl" if config is not None else None
    return Path(path) if path is not None and Path(path).exists() else None


def write_report(session: Any, out_dir: Path) -> list[Path]:
    """The report files from the session's recording so far, into out_dir/report."""
    recording = recording_path(session)
    if recording is None:
        raise ValueError("no recording to report on yet")
    return build_report(recording, out_dir / "report", ReportOptions())
