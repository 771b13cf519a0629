"""`quanttui compare`: runs in (recordings, or report folders with their report.json), compare.md,
compare.html and its charts' PNGs out.

A recording is folded as `quanttui report` folds it (the same run, core/run_summary.py); a report
folder gives the run its report.json wrote, so a run reported on the GPU box compares on a laptop
without its recording. Bad input is one line naming the path (CompareError).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from quanttui import __version__
from quanttui.core.compare import compare_markdown, differing_settings, pair_sentences, runs_summary
from quanttui.core.compare_run import CompareInputError, CompareRun, run_from_json
from quanttui.core.recording import RecordingError
from quanttui.core.run_summary import compare_run
from quanttui.core.verdict import fold_verdict, where_measured
from quanttui.io.chart_base import drawing, save_png
from quanttui.io.compare_charts import draw_compare_charts
from quanttui.io.export import write_text_export
from quanttui.io.recording_file import fold_recording
from quanttui.io.report_html import PNG_DIR, markdown_html, page_environment, write_whole
from quanttui.io.report_palette import Palette

RUN_FILE = "report.json"
RECORDING_IN_FOLDER = "recording.jsonl"  # a console session's folder
COMPARE_FILES = ("compare.html", "compare.md")


class CompareError(ValueError):
    """A run that cannot be read; the message names the path."""


def _label(path: Path) -> str:
    name = path.name
    return name.removesuffix(".jsonl") if path.is_file() else name


def load_run(path: Path, label: str | None = None, usd_per_hour: float | None = None) -> CompareRun:
    """One run from a recording, a report folder (report.json) or a session folder (recording.jsonl).
    `usd_per_hour` prices a run whose recording or report has no GPU price."""
    if path.is_dir():
        summary, recording = path / RUN_FILE, path / RECORDING_IN_FOLDER
        if summary.is_file():
            try:
                data = json.loads(summary.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    raise CompareInputError("not a JSON object")
                run = _priced(run_from_json(data, label or path.name, str(summary)), usd_per_hour)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, CompareInputError) as exc:
                raise CompareError(f"{summary}: {exc}") from None
            return run
        if recording.is_file():
            return load_run(recording, label or path.name, usd_per_hour)
        raise CompareError(
            f"{path}: neither {RUN_FILE} (a report folder) nor {RECORDING_IN_FOLDER} (a session folder)"
        )
    if not path.is_file():
        raise CompareError(f"{path}: no such file or folder")
    try:
        folded = fold_recording(path)
    except (OSError, RecordingError, ValueError) as exc:
        raise CompareError(f"{path}: {exc}") from None
    fold = folded.fold
    verdict = fold_verdict(fold)
    config = folded.header.config
    cost = config.get("cost") if isinstance(config.get("cost"), dict) else {}
    price = cost.get("gpu_usd_per_hour") if isinstance(cost.get("gpu_usd_per_hour"), int | float) else None
    where = where_measured(fold.aggregator.gpu_names)
    run = compare_run(fold, verdict, config, where, label or _label(path), str(path), price)
    return _priced(run, usd_per_hour)


def _priced(run: CompareRun, usd_per_hour: float | None) -> CompareRun:
    if run.usd_per_hour is not None or usd_per_hour is None:
        return run
    return replace(run, usd_per_hour=usd_per_hour)


def write_compare(runs: Sequence[CompareRun], out_dir: Path, palette: Palette) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = compare_markdown(runs)
    md_path = out_dir / COMPARE_FILES[1]
    write_text_export(md_path, markdown)
    with drawing():
        charts = draw_compare_charts(runs, palette)
        (out_dir / PNG_DIR).mkdir(parents=True, exist_ok=True)
        for chart in charts:
            save_png(chart.figure, out_dir / PNG_DIR / f"{chart.name}.png")
    tables = markdown.split("\n## Runs", 1)[1] if "\n## Runs" in markdown else markdown
    page = page_environment().get_template("compare.html.j2").render(
        page_title="quanttui compare: " + " vs ".join(run.label for run in runs), version=__version__,
        palette=palette, charts=charts, png_dir=PNG_DIR, sentences=pair_sentences(runs), summaries=[runs_summary(a, b) for i, a in enumerate(runs) for b in runs[i + 1 :]],
        differing=list(differing_settings(runs)), tables_html=markdown_html("## Runs" + tables),
    )  # fmt: skip
    html_path = out_dir / COMPARE_FILES[0]
    write_whole(html_path, page)
    return [html_path, md_path]
