"""Jobs a driver asks of a session: files written from the session's own fold, on its side.

They run on the session's loop (the fold must not change while it is read) and never on the
console's thread; the console hears back with the paths or the error (session/handle.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from quanttui.core.fold import SessionFold
from quanttui.core.recording import RecordingHeader
from quanttui.core.summary import build_summary
from quanttui.io.catalog_export import export_triage
from quanttui.io.export import write_json_export, write_sweep_csv
from quanttui.io.report_files import ReportOptions, write_report_files
from quanttui.session.commands import ExportCatalog, ExportSummary, Job, WriteReport
from quanttui.session.triage import TriageTagging

CATALOG_FORMATS = ("md", "csv", "json")


def export_summary(header: RecordingHeader, fold: SessionFold, out_dir: Path, t: float) -> list[Path]:
    """`export-tNNNNNs-summary.json` and `export-tNNNNNs-sweep.csv` (session time in the name, so an
    export never overwrites the session's own sweep.csv and a later export does not clash)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"t{int(t):05d}s"
    summary_path = out_dir / f"export-{stamp}-summary.json"
    csv_path = out_dir / f"export-{stamp}-sweep.csv"
    summary = build_summary(header.config, fold)
    write_json_export(summary_path, summary)
    write_sweep_csv(fold.all_step_stats(), csv_path)
    return [summary_path, csv_path]


# One thread draws every report.html, in the order asked: a later "Write report" never leaves an
# older page beside newer markdown. Its thread is joined at exit, so quitting waits for the page.
_PAGES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-html")


def drawn_off_the_loop(written: list[Path], draw_page: Callable[[], Path]) -> Future[list[Path]]:
    """report.html drawn off the session's loop (charts take seconds; the loop goes on scraping and
    recording meanwhile); the future holds every path once the page is written."""
    return _PAGES.submit(lambda: [*written, draw_page()])


def run_job(
    job: Job, header: RecordingHeader, fold: SessionFold, tagging: TriageTagging, title: str
) -> list[Path] | Future[list[Path]]:
    """Do one job; returns the files written, or a future of them for a job that finishes off the
    session's loop (errors are raised to whoever asked)."""
    match job:
        case ExportSummary(out_dir=out_dir):
            return export_summary(header, fold, out_dir, fold.aggregator.last_t)
        case WriteReport(out_dir=out_dir):
            triage = fold.triage
            triage.load_tags(tagging.loaded())  # a tag of an earlier sitting counts too
            written, draw_page = write_report_files(
                fold,
                header.config,
                title,
                out_dir / "report",
                ReportOptions(),
                triage,
                traces_dir="../traces",
            )
            return written if draw_page is None else drawn_off_the_loop(written, draw_page)
        case ExportCatalog(out_dir=out_dir):
            triage = fold.triage
            triage.load_tags(tagging.loaded())
            return export_triage(triage, out_dir, CATALOG_FORMATS, "Failure catalog")
    raise ValueError(f"not a job: {job!r}")
