"""How many requests the adaptive steps spend against fixed 8/32/128-request steps for the same decisions.

No server: each simulated step draws latencies whose true p95 sits at a ratio of the SLO bound
(0.5 ... 2 x) and is judged by the shipped code, `look_plan` + `step_verdict` (core/decisions.py):
- adaptive: the default plan (5 steps 1,2,4,8,16; 2 variants; 95 % family-wise; cap 512 requests),
  its looks at 4 x c, doubling, up to the cap, the first look that decides ends the step;
- fixed N (8, 32, 128): `requests_per_step=N` on the same ramp, one look at the end on
  max(N, 4 x c) measured requests (a step never measures fewer than 4 x c).
Per case: mean measured requests, mean sent requests (+ the c fill-wave requests every step sends
first, + for an adaptive step decided before its cap the c - 1 requests still in flight), the share
decided meets / breaches / undecided, and the share of WRONG decisions (breaches when p95 < bound,
meets when p95 > bound). The 300 s time cap is not simulated (no clock): the request cap binds.
Two latency models: iid lognormal (sigma 0.5), and closed-loop correlated (log-latency AR(1),
phi 0.8, same marginal).
Results: bench/results/adaptive_steps.json and adaptive_steps.md.

Usage: `nice python bench/adaptive_steps.py [--draws 2000] [--correlated-draws 1000]`
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

from quanttui.core.decisions import LookPlan, look_plan, step_verdict
from quanttui.core.events import RequestResult
from quanttui.core.loadplan import LoadPlan, Slo

RESULTS = Path(__file__).parent / "results"
Z95 = float(norm.ppf(0.95))
BOUND_MS = 1000.0
RAMP = (1, 2, 4, 8, 16)
VARIANTS = 2
RATIOS = (0.5, 0.8, 0.9, 1.1, 1.25, 2.0)
CONCURRENCIES = (1, 4, 16)
FIXED = (8, 32, 128)
SIGMA = 0.5
PHI = 0.8
SEED = 14


def latencies(rng: np.random.Generator, draws: int, n: int, ratio: float, phi: float) -> np.ndarray:
    """Seconds; lognormal marginal (sigma 0.5) with p95 = ratio x bound; AR(1) in the log when phi > 0."""
    if phi <= 0:
        x = rng.standard_normal((draws, n))
    else:
        x = np.empty((draws, n))
        x[:, 0] = rng.standard_normal(draws)
        shocks = rng.standard_normal((draws, n)) * math.sqrt(1 - phi * phi)
        for i in range(1, n):
            x[:, i] = phi * x[:, i - 1] + shocks[:, i]
    return np.exp(SIGMA * (x - Z95)) * ratio * BOUND_MS / 1000.0


def results(row: np.ndarray, base: int) -> list[RequestResult]:
    return [
        RequestResult(
            t=0.0, variant="v", step=0, index=base + i, warmup=False, start=0.0, ok=True, e2e=float(s)
        )
        for i, s in enumerate(row)
    ]


def strategies(concurrency: int) -> list[tuple[str, LoadPlan, LookPlan, int]]:
    """(label, plan, its look plan at this concurrency, requests measured at most)."""
    slo = Slo(BOUND_MS)
    adaptive = LoadPlan(concurrencies=RAMP, slo=slo)
    out = [("adaptive", adaptive, look_plan(adaptive, concurrency, VARIANTS), adaptive.max_step_requests)]
    for n in FIXED:
        plan = LoadPlan(concurrencies=RAMP, requests_per_step=n, slo=slo)
        out.append(
            (
                f"fixed {n}",
                plan,
                look_plan(plan, concurrency, VARIANTS),
                max(n, plan.min_measured(concurrency)),
            )
        )
    return out


def simulate(draws: int, phi: float) -> list[dict[str, Any]]:
    rows = []
    for ratio in RATIOS:
        for c in CONCURRENCIES:
            plans = strategies(c)
            longest = max(n for *_, n in plans)
            rng = np.random.default_rng([SEED, int(ratio * 100), c, int(phi * 100)])
            samples = latencies(rng, draws, longest, ratio, phi)
            for label, plan, looks, length in plans:
                said = {"meets": 0, "breaches": 0, "undecided": 0}
                measured = sent = 0
                for row in samples:
                    verdict = step_verdict(
                        results(row[:length], c), c, looks, plan.slo, c, plan.confidence, True
                    )
                    said[verdict.decision or "undecided"] += 1
                    measured += verdict.measured
                    tail = c - 1 if looks.looks and verdict.measured < length else 0
                    sent += c + verdict.measured + tail
                wrong = said["breaches"] if ratio < 1 else said["meets"]
                row_out = {"ratio": ratio, "concurrency": c, "strategy": label, "looks": list(looks.looks)}
                row_out |= {"alpha_meets": looks.alpha_meets, "alpha_breach": looks.alpha_breach}
                row_out |= {"mean_measured": round(measured / draws, 1), "mean_sent": round(sent / draws, 1)}
                row_out |= {k: round(v / draws, 4) for k, v in said.items()}
                row_out |= {"wrong": round(wrong / draws, 4), "draws": draws}
                rows.append(row_out)
            print(f"  phi={phi} ratio={ratio} c={c} done", flush=True)
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for label in ["adaptive", *(f"fixed {n}" for n in FIXED)]:
        mine = [r for r in rows if r["strategy"] == label]
        right = [r["breaches"] if r["ratio"] > 1 else r["meets"] for r in mine]
        out.append(
            {
                "strategy": label,
                "mean_measured": round(sum(r["mean_measured"] for r in mine) / len(mine), 1),
                "mean_sent": round(sum(r["mean_sent"] for r in mine) / len(mine), 1),
                "right": round(sum(right) / len(mine), 4),
                "undecided": round(sum(r["undecided"] for r in mine) / len(mine), 4),
                "wrong": round(sum(r["wrong"] for r in mine) / len(mine), 4),
                "max_wrong": max(r["wrong"] for r in mine),
            }
        )
    return out


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def table(rows: list[dict[str, Any]]) -> list[str]:
    md = ["| p95 / bound | c | strategy | measured | sent | meets | breaches | undecided | WRONG |"]
    md += ["|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md += [
            f"| {r['ratio']:g} | {r['concurrency']} | {r['strategy']} | {r['mean_measured']} | {r['mean_sent']} "
            f"| {pct(r['meets'])} | {pct(r['breaches'])} | {pct(r['undecided'])} | {pct(r['wrong'])} |"
        ]
    return md


def summary_table(rows: list[dict[str, Any]]) -> list[str]:
    md = [
        "| strategy | mean measured | mean sent | decided right | undecided | wrong (mean) | wrong (worst case) |"
    ]
    md += ["|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md += [
            f"| {r['strategy']} | {r['mean_measured']} | {r['mean_sent']} | {pct(r['right'])} | {pct(r['undecided'])} "
            f"| {pct(r['wrong'])} | {pct(r['max_wrong'])} |"
        ]
    return md


def markdown(result: dict[str, Any]) -> str:
    md = [f"# adaptive_steps ({result['date']})", ""]
    md += [f"Command: `{result['command']}` ({result['seconds']:.0f} s, Python {result['python']}).", ""]
    md += [
        "Simulated steps judged by `look_plan` + `step_verdict`: the default adaptive plan (ramp 1,2,4,8,16, "
        "2 variants, 95 % family-wise, cap 512) against fixed steps of 8, 32 and 128 requests (one look at "
        "the end, on max(N, 4 x c) requests). Lognormal latencies (sigma 0.5), p95 at the given ratio of the "
        "bound. measured: requests the decision uses; sent: + the c fill-wave requests, + c - 1 in flight "
        "when an adaptive step is decided before its cap. WRONG: breaches below the bound, meets above it.",
        "",
    ]
    for key, title in (
        ("iid", "iid latencies"),
        ("ar1", f"closed-loop correlated: log-latency AR(1), phi {PHI}"),
    ):
        md += [f"## {title} ({result[key]['draws']} draws per case)", "", "Over all 18 cases:", ""]
        md += summary_table(result[key]["summary"])
        md += ["", "Per case:", ""]
        md += table(result[key]["rows"])
        md += [""]
    return "\n".join(md)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000, help="simulated steps per case, iid")
    parser.add_argument("--correlated-draws", type=int, default=1000, help="simulated steps per case, AR(1)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    command = "nice python bench/adaptive_steps.py"
    if args.draws != 2000 or args.correlated_draws != 1000:
        command += f" --draws {args.draws} --correlated-draws {args.correlated_draws}"
    result: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "command": command,
        "python": platform.python_version(),
        "seed": SEED,
        "plan": {"ramp": list(RAMP), "variants": VARIANTS, "confidence": 0.95, "sigma": SIGMA},
    }
    for key, phi, draws in (("iid", 0.0, args.draws), ("ar1", PHI, args.correlated_draws)):
        rows = simulate(draws, phi)
        result[key] = {"phi": phi, "draws": draws, "summary": summary(rows), "rows": rows}
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "adaptive_steps.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "adaptive_steps.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
