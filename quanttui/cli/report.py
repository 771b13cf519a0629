"""`quanttui report RECORDING --out DIR`: capacity, knees, cost and the INT4 business case, from a
recording alone (add `--triage FILE` to tie the business case to a failure catalog)."""

from __future__ import annotations

import argparse
from pathlib import Path

from quanttui.cli.common import EXIT_OK, UsageError, positive, stderr
from quanttui.core.loadplan import SloMetric
from quanttui.io.report_files import ReportOptionError, ReportOptions, build_report
from quanttui.io.report_palette import REPORT_THEME, PaletteError


def add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="report.html (charts), capacity.md, cost_model.md, business_case.md and CSVs from a recording",
    )
    p.add_argument("file", type=Path, metavar="RECORDING")
    p.add_argument("--out", default="quanttui-report", metavar="DIR")
    p.add_argument(
        "--triage", type=Path, metavar="RECORDING", help="a triage recording for the quality bullets"
    )
    p.add_argument(
        "--gpu-usd-per-hour", type=positive, metavar="USD", help="GPU price (default: the recording's [cost])"
    )
    p.add_argument("--tokens-per-day", type=positive, metavar="N", help="expected output tokens per day")
    p.add_argument(
        "--utilization", type=positive, metavar="U", help="planned share of measured capacity (0-1]"
    )
    p.add_argument("--slo-p95-ms", type=positive, metavar="MS", help="override the recorded SLO")
    p.add_argument(
        "--slo-metric", choices=[m.value for m in SloMetric], help="p95 of e2e (default), ttft, tpot, itl"
    )
    p.add_argument(
        "--bandwidth-gbps", type=positive, metavar="GBPS", help="memory bandwidth for the roofline"
    )
    p.add_argument(
        "--theme", default=REPORT_THEME, metavar="NAME", help="report.html's colours (hex colours)"
    )
    p.add_argument(
        "--dist-level", type=positive, metavar="LEVEL",
        help="the step of the TTFT/ITL distributions (default: each variant's largest within the SLO)",
    )  # fmt: skip
    p.add_argument(
        "--no-html", action="store_true", help="markdown and CSV only (no report.html, no matplotlib)"
    )


def cmd_report(args: argparse.Namespace) -> int:
    for name in ("gpu_usd_per_hour", "tokens_per_day", "slo_p95_ms", "bandwidth_gbps"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be > 0, got {value:g}")
    if args.utilization is not None and not 0 < args.utilization <= 1:
        raise UsageError(f"--utilization must be in (0, 1], got {args.utilization:g}")
    for path in (args.file, args.triage):
        if path is not None and not path.exists():
            raise UsageError(f"{path}: no such file")
    options = ReportOptions(
        gpu_usd_per_hour=args.gpu_usd_per_hour, tokens_per_day=args.tokens_per_day, utilization=args.utilization,
        slo_p95_ms=args.slo_p95_ms, slo_metric=args.slo_metric, bandwidth_gbps=args.bandwidth_gbps,
        theme=args.theme, dist_level=args.dist_level, html=not args.no_html,
    )  # fmt: skip
    try:
        paths = build_report(args.file, Path(args.out), options, args.triage)
    except (PaletteError, ReportOptionError) as exc:
        raise UsageError(str(exc)) from None
    for path in paths:
        stderr(f"wrote {path}")
    return EXIT_OK
