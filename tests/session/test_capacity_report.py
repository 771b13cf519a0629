"""`quanttui report` on the shipped real recordings: the files, the CLI's errors, and the console's
palette command (the pure capacity and cost parts are in tests/core/test_capacity.py)."""

import subprocess
import sys
from pathlib import Path

import polars as pl

from quanttui.io.report_files import ReportOptions, build_report

RECORDINGS = Path(__file__).parents[2] / "recordings"
SWEEP = RECORDINGS / "demo-vllm-cpu-bf16-awq.jsonl"
TRIAGE = RECORDINGS / "demo-vllm-cpu-triage.jsonl"


def test_report_from_the_shipped_recordings(tmp_path):
    options = ReportOptions(gpu_usd_per_hour=0.30, tokens_per_day=5e6, bandwidth_gbps=40.0)
    paths = build_report(SWEEP, tmp_path, options, TRIAGE)
    assert [p.name for p in paths] == ["sweep.csv", "concurrency_sweep.csv", "capacity.md", "cost_model.md",
                                       "business_case.md", "report.json", "report.html"]  # fmt: skip
    capacity = (tmp_path / "capacity.md").read_text()
    # a schema-2 recording of 8 requests per step: no step can be decided "meets" at 95 % (that takes
    # 59 requests within the SLO), so no ratio is stated, and the report says why and what to run
    assert (
        "On this CPU (no GPU), inconclusive at p95 e2e <= 8,000 ms: bf16 holds none, undecided at 1 "
        "(5,067 ms [3,396, —] vs SLO 8,000 ms, 8 requests); awq holds none, undecided at 1" in capacity
    )
    assert "To decide: give bf16 and awq's undecided steps more requests" in capacity
    assert (
        "| 1 | awq | 8 | 71.1 |" in capacity and capacity.count("| breaches |") == 1
    )  # its c=8 breach is clear
    cost = (tmp_path / "cost_model.md").read_text()
    assert "$/1M output tokens" in cost and "| awq | 4 | 61.8 | 1.35 | undecided |" in cost
    assert "Inconclusive: bf16 holds none" in cost
    case = (tmp_path / "business_case.md").read_text()
    why, bad = case.split("## When INT4 is a bad idea")
    assert (
        3 <= why.count("\n- ") <= 8 and bad.count("\n- ") == 2
    )  # no density or cost claims while inconclusive
    assert "Cost at the SLO: inconclusive" in why and "Tenant density" not in why
    assert "mean KL 0.108 nats" in why and "code (3 vs 1 of 5)" in bad
    frame = pl.read_csv(tmp_path / "concurrency_sweep.csv")
    assert frame["conc"].to_list() == [1, 2, 4, 8] and "awq_p95_e2e_ms" in frame.columns


def test_report_cli_errors_are_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "quanttui", "report", str(tmp_path / "nope.jsonl")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert (
        done.returncode == 2
        and done.stderr.strip() == f"quanttui report: error: {tmp_path / 'nope.jsonl'}: no such file"
    )
    done = subprocess.run([sys.executable, "-m", "quanttui", "report", str(SWEEP), "--utilization", "2",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "--utilization must be in (0, 1]" in done.stderr
    done = subprocess.run([sys.executable, "-m", "quanttui", "report", str(SWEEP), "--slo-p95-ms", "6000",
                           "--slo-metric", "e2e", "--out", str(tmp_path / "r")], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    capacity = (tmp_path / "r" / "capacity.md").read_text()
    # the SLO given on the command line replaces the recording's 8,000 ms
    assert "inconclusive at p95 e2e <= 6,000 ms" in capacity
    assert "SLO: p95 e2e <= 6,000 ms." in capacity and "8,000" not in capacity
    # the CLI prints the file names on stderr only: stdout stays free for a pipe
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"wrote {tmp_path / 'r' / name}" for name in
                                        ("sweep.csv", "concurrency_sweep.csv", "capacity.md", "cost_model.md",
                                         "business_case.md", "report.json", "report.html")]  # fmt: skip


async def test_the_console_writes_the_report_from_its_palette(tmp_path):
    from quanttui.session import ReplaySession
    from quanttui.session.handle import SessionHandle
    from quanttui.ui.app import QuanttuiApp

    app = QuanttuiApp(SessionHandle(ReplaySession(SWEEP, speed=None, hold_at_end=True)), tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Write report", "Compare outputs", "Export failure catalog", "Export summary"} <= set(titles)
        while not (app.state.replay and app.state.replay.at_end):
            await pilot.pause(0.05)
        app.write_report()  # a job on the session's own thread; the app hears back by message
        page = tmp_path / "report" / "report.html"
        while not any("report.html" in n.message for n in app._notifications):
            await pilot.pause(0.05)
        # the notice names the page, which is written (with the markdown beside it)
        shown = next(n.message for n in app._notifications if "report.html" in n.message)
        assert str(page) in shown.splitlines()
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "report" / "capacity.md").read_text().startswith("# Capacity")
    assert (tmp_path / "report" / "business_case.md").exists()
