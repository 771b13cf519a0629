"""Interval coverage and SLO-decision error rates, simulated (issue 14): core/intervals.py and core/decisions.py.

Every section draws latencies from a distribution whose true p95 is known and calls the shipped
functions on them:
1. Coverage of `quantile_interval(values, 0.95, 0.95)` for iid exponential, lognormal, Pareto
   (b = 1.5, infinite variance) and bimodal latencies, beside its exact (binomial) coverage.
2. One look (`exceedance_decision`) with the true p95 exactly at the bound: the rate of "meets"
   and of "breaches" at per-look errors 5 %, 1.25 % and 0.3125 %, simulated and exact.
3. The sequential looks of an adaptive step (`look_plan` + `step_verdict`, 512-request cap) with the
   truth at the bound: the share of steps that end "meets" / "breaches" at any look, against the
   claim's error; and, for contrast, the same looks without the split over looks and a test after
   every request (the optional-stopping inflation the split prevents).
4. Closed-loop autocorrelation: log-latency AR(1) with the marginal p95 at the bound, with and
   without the batch-means design effect (one look, the sequential rule, and interval coverage).
Results: bench/results/interval_coverage.json and interval_coverage.md.

Usage: `nice python bench/interval_coverage.py [--draws 10000]` (about 5 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binom, lognorm, multivariate_normal, norm

from quanttui.core.decisions import LookPlan, look_plan, step_verdict
from quanttui.core.events import RequestResult
from quanttui.core.intervals import Decision, design_effect, exceedance_decision, quantile_interval
from quanttui.core.loadplan import LoadPlan, Slo

RESULTS = Path(__file__).parent / "results"
Q = 0.95
Z95 = float(norm.ppf(Q))
BOUND = 1.0  # seconds: the SLO bound (1000 ms)
SEED = 14

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
FAST, SLOW, SLOW_SHARE = lognorm(0.2, scale=1.0), lognorm(0.3, scale=6.0), 0.15


def bimodal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    fast = rng.lognormal(0.0, 0.2, shape)
    slow = rng.lognormal(math.log(6.0), 0.3, shape)
    return np.where(rng.random(shape) < SLOW_SHARE, slow, fast)


DISTRIBUTIONS: dict[str, tuple[Sampler, float, str]] = {
    "exponential": (lambda rng, shape: rng.exponential(1.0, shape), -math.log(0.05), "exponential(1)"),
    "lognormal": (lambda rng, shape: rng.lognormal(0.0, 1.0, shape), math.exp(Z95), "lognormal(0, 1)"),
    "pareto": (lambda rng, shape: 1.0 + rng.pareto(1.5, shape), 0.05 ** (-1 / 1.5), "Pareto(x_m 1, b 1.5)"),
    "bimodal": (
        bimodal,
        float(
            brentq(
                lambda x: (1 - SLOW_SHARE) * FAST.cdf(x) + SLOW_SHARE * SLOW.cdf(x) - Q, 1.0, 50.0, xtol=1e-12
            )
        ),
        "85 % lognormal(0, 0.2) + 15 % lognormal(ln 6, 0.3)",
    ),
}
DEFAULT_PLAN = LoadPlan(concurrencies=(1, 2, 4, 8, 16), slo=Slo(BOUND * 1000.0))  # 5 steps, 95 %
WIDE_PLAN = LoadPlan(
    concurrencies=(4,), slo=Slo(BOUND * 1000.0), confidence=0.5
)  # errors large enough to see


def at_the_bound(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """iid lognormal latencies (sigma 0.5) whose true p95 is exactly the bound."""
    return np.exp(rng.standard_normal(shape) * 0.5 + math.log(BOUND) - 0.5 * Z95)


def ar1(rng: np.random.Generator, draws: int, n: int, phi: float) -> np.ndarray:
    """Log-latency AR(1), standard normal marginal, scaled so the marginal p95 is the bound."""
    x = np.empty((draws, n))
    x[:, 0] = rng.standard_normal(draws)
    shocks = rng.standard_normal((draws, n)) * math.sqrt(1 - phi * phi)
    for i in range(1, n):
        x[:, i] = phi * x[:, i - 1] + shocks[:, i]
    return np.exp(x - Z95) * BOUND


def indicator_design_effect(phi: float) -> float:
    """The true variance inflation of the over-the-p95 share for a Gaussian AR(1):
    1 + 2 sum_k corr(1{X_0 > z}, 1{X_k > z})."""
    p, total = 1 - Q, 1.0
    for k in range(1, 400):
        r = phi**k
        if r < 1e-7:
            break
        both_below = multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([Z95, Z95])
        both_over = 1 - 2 * Q + both_below
        total += 2 * (both_over - p * p) / (p * (1 - p))
    return total


def results(latencies: np.ndarray, base: int) -> list[RequestResult]:
    return [
        RequestResult(
            t=0.0, variant="v", step=0, index=base + i, warmup=False, start=0.0, ok=True, e2e=float(s)
        )
        for i, s in enumerate(latencies)
    ]


@functools.cache
def decide(over: int, n: int, alpha_meets: float, alpha_breach: float) -> Decision:
    """exceedance_decision without a design effect depends on the count only: computed once per count."""
    return exceedance_decision(over, n, Q, alpha_meets, alpha_breach)


# --- 1. coverage ------------------------------------------------------------------------------


def interval_ranks(n: int) -> tuple[int, int]:
    """The 1-based ranks of the interval's ends (0 / n + 1 for an open end)."""
    lo, hi = quantile_interval([float(i) for i in range(1, n + 1)], Q, 0.95)
    return (0 if lo is None else int(lo)), (n + 1 if hi is None else int(hi))


def exact_coverage(n: int) -> float:
    low, high = interval_ranks(n)
    return float(binom.cdf(high - 1, n, Q) - (binom.cdf(low - 1, n, Q) if low >= 1 else 0.0))


def coverage(draws: int, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        low, high = interval_ranks(n)
        row: dict[str, Any] = {"n": n, "exact": round(exact_coverage(n), 4), "ranks": [low, high]}
        row["open_end"] = "upper" if high > n else ("lower" if low < 1 else "")
        count = draws if n <= 400 else draws // 2
        row["draws"] = count
        for name, (draw, truth, _) in DISTRIBUTIONS.items():
            rng = np.random.default_rng([SEED, 1, n, len(name)])
            covered = 0
            for sample in draw(rng, (count, n)):
                lo, hi = quantile_interval(sample.tolist(), Q, 0.95)
                covered += (lo is None or lo <= truth) and (hi is None or truth <= hi)
            row[name] = round(covered / count, 4)
        rows.append(row)
        print(f"  coverage n={n}: {row}", flush=True)
    return rows


# --- 2. one look ------------------------------------------------------------------------------


def one_look(draws: int, sizes: list[int], alphas: list[float]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        rng = np.random.default_rng([SEED, 2, n])
        counts = (at_the_bound(rng, (draws, n)) > BOUND).sum(axis=1)
        for alpha in alphas:
            said = [decide(int(k), n, alpha, alpha) for k in counts]
            k_meets = max((k for k in range(n + 1) if decide(k, n, alpha, alpha) == "meets"), default=-1)
            k_breach = min(
                (k for k in range(n + 1) if decide(k, n, alpha, alpha) == "breaches"), default=n + 1
            )
            row = {
                "n": n,
                "alpha": alpha,
                "meets": round(said.count("meets") / draws, 5),
                "meets_exact": float(binom.cdf(k_meets, n, 1 - Q)) if k_meets >= 0 else 0.0,
                "breaches": round(said.count("breaches") / draws, 5),
                "breaches_exact": float(binom.sf(k_breach - 1, n, 1 - Q)) if k_breach <= n else 0.0,
                "meets_if_over_at_most": k_meets,
                "breaches_if_over_at_least": k_breach if k_breach <= n else None,
                "draws": draws,
            }
            rows.append(row)
        print(f"  one look n={n} done", flush=True)
    return rows


# --- 3. sequential looks ----------------------------------------------------------------------


def run_steps(
    samples: np.ndarray, concurrency: int, looks: LookPlan, plan: LoadPlan
) -> tuple[dict[str, float], float]:
    said = {"meets": 0, "breaches": 0, "undecided": 0}
    measured = 0
    for row in samples:
        verdict = step_verdict(
            results(row, concurrency), concurrency, looks, plan.slo, concurrency, 0.95, True
        )
        said[verdict.decision or "undecided"] += 1
        measured += verdict.measured
    return {k: v / len(samples) for k, v in said.items()}, measured / len(samples)


def every_request(
    samples: np.ndarray, first: int, alpha_meets: float, alpha_breach: float
) -> dict[str, float]:
    """A test after every request from `first` on, each at the full error (no design effect)."""
    n_max = samples.shape[1]
    meets_max = np.full(n_max + 1, -1)
    breach_min = np.full(n_max + 1, n_max + 1)
    for n in range(first, n_max + 1):
        k = 0
        while k <= n and decide(k, n, alpha_meets, alpha_breach) == "meets":
            k += 1
        meets_max[n] = k - 1
        k = max(0, int(n * (1 - Q)))
        while k <= n and decide(k, n, alpha_meets, alpha_breach) != "breaches":
            k += 1
        breach_min[n] = k
    cumulative = np.cumsum(samples > BOUND, axis=1)  # column n - 1: over-count of the first n
    said = {"meets": 0, "breaches": 0, "undecided": 0}
    ns = np.arange(first, n_max + 1)
    for counts in cumulative:
        k = counts[ns - 1]
        meets = np.nonzero(k <= meets_max[ns])[0]
        breaches = np.nonzero(k >= breach_min[ns])[0]
        first_meets = meets[0] if meets.size else n_max + 1
        first_breach = breaches[0] if breaches.size else n_max + 1
        if first_meets == first_breach == n_max + 1:
            said["undecided"] += 1
        else:
            said["meets" if first_meets < first_breach else "breaches"] += 1
    return {k: v / len(samples) for k, v in said.items()}


def sequential(draws: int) -> list[dict[str, Any]]:
    rows = []
    cases = [("default: 95 %, 2 variants, 5 steps", DEFAULT_PLAN, 2, c) for c in (1, 4, 16)]
    cases.append(("50 %, 1 variant, 1 step", WIDE_PLAN, 1, 4))
    for label, plan, variants, c in cases:
        looks = look_plan(plan, c, variants)
        claim = (1 - plan.confidence) / (2 * variants)
        breach_bound = claim / len(plan.concurrencies)
        rng = np.random.default_rng([SEED, 3, c, variants])
        samples = at_the_bound(rng, (draws, looks.looks[-1]))
        rates, measured = run_steps(samples, c, looks, plan)
        base = {"plan": label, "concurrency": c, "looks": list(looks.looks), "draws": draws}
        bounds = {"meets_bound": claim, "breaches_bound": breach_bound}
        rows.append(
            base
            | {"rule": "shipped: split over looks", "alpha_meets": looks.alpha_meets}
            | {"alpha_breach": looks.alpha_breach, "mean_measured": round(measured, 1)}
            | {k: round(v, 5) for k, v in rates.items()}
            | bounds
        )
        print(f"  sequential {label} c={c}: {rates}", flush=True)
        if plan is WIDE_PLAN or c == 4:
            naive = LookPlan(looks.looks, claim, breach_bound)
            rates, measured = run_steps(samples, c, naive, plan)
            rows.append(
                base
                | {
                    "rule": "no split: full error at each look",
                    "alpha_meets": claim,
                    "alpha_breach": breach_bound,
                }
                | {"mean_measured": round(measured, 1)}
                | {k: round(v, 5) for k, v in rates.items()}
                | bounds
            )
            rates = every_request(samples, looks.looks[0], claim, breach_bound)
            rows.append(
                base
                | {
                    "rule": "test after every request, full error",
                    "alpha_meets": claim,
                    "alpha_breach": breach_bound,
                }
                | {"mean_measured": None}
                | {k: round(v, 5) for k, v in rates.items()}
                | bounds
            )
    return rows


# --- 4. autocorrelation -----------------------------------------------------------------------


def ar1_one_look(draws: int, phis: list[float], sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    alpha = 0.05
    for phi in phis:
        d_true = indicator_design_effect(phi)
        for n in sizes:
            rng = np.random.default_rng([SEED, 4, n, int(phi * 100)])
            tally = dict.fromkeys(
                ("plain_meets", "d4_meets", "d16_meets", "plain_breaches", "d4_breaches"), 0
            )
            none_over = 0
            d4_sum = d16_sum = 0.0
            covered_plain = covered_d4 = 0
            truth = BOUND
            for row in ar1(rng, draws, n, phi):
                over = row > BOUND
                k = int(over.sum())
                none_over += k == 0
                d4, d16 = design_effect(over.tolist(), 4), design_effect(over.tolist(), 16)
                d4_sum += d4
                d16_sum += d16
                plain = decide(k, n, alpha, alpha)
                with4 = exceedance_decision(k, n, Q, alpha, alpha, d4)
                with16 = exceedance_decision(k, n, Q, alpha, alpha, d16)
                tally["plain_meets"] += plain == "meets"
                tally["d4_meets"] += with4 == "meets"
                tally["d16_meets"] += with16 == "meets"
                tally["plain_breaches"] += plain == "breaches"
                tally["d4_breaches"] += with4 == "breaches"
                values = row.tolist()
                lo, hi = quantile_interval(values, Q, 0.95)
                covered_plain += (lo is None or lo <= truth) and (hi is None or truth <= hi)
                lo, hi = quantile_interval(values, Q, 0.95, d4)
                covered_d4 += (lo is None or lo <= truth) and (hi is None or truth <= hi)
            out = {"phi": phi, "n": n, "draws": draws, "d_true": round(d_true, 2)}
            out |= {"mean_d4": round(d4_sum / draws, 2), "mean_d16": round(d16_sum / draws, 2)}
            out |= {"none_over": round(none_over / draws, 4)}
            out |= {k: round(v / draws, 4) for k, v in tally.items()}
            out |= {
                "coverage_plain": round(covered_plain / draws, 4),
                "coverage_d4": round(covered_d4 / draws, 4),
            }
            rows.append(out)
            print(f"  ar1 one look: {out}", flush=True)
    return rows


def ar1_sequential(draws: int, phis: list[float]) -> list[dict[str, Any]]:
    rows = []
    claim = (1 - DEFAULT_PLAN.confidence) / 4
    for phi in phis:
        for c in (1, 4, 16):
            looks = look_plan(DEFAULT_PLAN, c, 2)
            rng = np.random.default_rng([SEED, 5, c, int(phi * 100)])
            rates, measured = run_steps(ar1(rng, draws, looks.looks[-1], phi), c, looks, DEFAULT_PLAN)
            row = {"phi": phi, "concurrency": c, "draws": draws, "mean_measured": round(measured, 1)}
            row |= {k: round(v, 4) for k, v in rates.items()}
            row |= {"meets_bound": claim, "breaches_bound": claim / len(DEFAULT_PLAN.concurrencies)}
            rows.append(row)
            print(f"  ar1 sequential: {row}", flush=True)
    return rows


# --- report -----------------------------------------------------------------------------------


def pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f} %"


def markdown(result: dict[str, Any]) -> str:
    md = [f"# interval_coverage ({result['date']})", ""]
    md += [f"Command: `{result['command']}` ({result['seconds']:.0f} s, Python {result['python']}).", ""]
    md += [
        "Distributions (true p95): "
        + "; ".join(f"{d['label']}: {d['p95']:.4g}" for d in result["distributions"])
    ]
    md += ["", "## 1. Coverage of the 95 % interval of the p95 (iid)", ""]
    names = list(DISTRIBUTIONS)
    md += ["| n | draws | ranks [l, u] | open end | exact | " + " | ".join(names) + " |"]
    md += ["|---:|---:|---|---|---:|" + "---:|" * len(names)]
    for r in result["coverage"]:
        ranks = f"[{r['ranks'][0] or '-'}, {r['ranks'][1] if r['ranks'][1] <= r['n'] else '-'}]"
        cells = " | ".join(pct(r[name]) for name in names)
        md += [
            f"| {r['n']} | {r['draws']} | {ranks} | {r['open_end'] or '-'} | {pct(r['exact'])} | {cells} |"
        ]
    md += ["", "## 2. One look at the bound (true p95 = bound, iid): rate of each decision", ""]
    md += ["| n | per-look error | meets if over <= | meets (sim) | meets (exact) | breaches if over >= "]
    md[-1] += "| breaches (sim) | breaches (exact) |"
    md += ["|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["one_look"]:
        meets_k = r["meets_if_over_at_most"] if r["meets_if_over_at_most"] >= 0 else "never"
        md += [
            f"| {r['n']} | {pct(r['alpha'], 4)} | {meets_k} | {pct(r['meets'], 3)} | {pct(r['meets_exact'], 3)} "
            f"| {r['breaches_if_over_at_least'] or 'never'} | {pct(r['breaches'], 3)} | {pct(r['breaches_exact'], 3)} |"
        ]
    md += ["", "## 3. Sequential looks of an adaptive step (true p95 = bound, iid, cap 512)", ""]
    md += [
        "Bound for meets: the claim's error (1 - confidence) / (2 x variants); for breaches: that / steps."
    ]
    md += [
        "",
        "| plan | c | rule | looks | per-look meets / breach error | meets | bound | breaches | bound ",
    ]
    md[-1] += "| mean measured |"
    md += ["|---|---:|---|---|---|---:|---:|---:|---:|---:|"]
    for r in result["sequential"]:
        looks = ",".join(str(n) for n in r["looks"])
        if r["rule"].startswith("test after"):
            looks = f"every n >= {r['looks'][0]}"
        md += [
            f"| {r['plan']} | {r['concurrency']} | {r['rule']} | {looks} | {pct(r['alpha_meets'], 3)} / "
            f"{pct(r['alpha_breach'], 3)} | {pct(r['meets'])} | {pct(r['meets_bound'])} | {pct(r['breaches'])} "
            f"| {pct(r['breaches_bound'])} | {r['mean_measured'] if r['mean_measured'] is not None else '-'} |"
        ]
    md += ["", "## 4. Closed-loop autocorrelation: log-latency AR(1), marginal p95 = bound", ""]
    md += ["One look at 5 %. d: batch-means design effect of the over-the-bound indicator (batch 4 is what"]
    md += ["`judge_bounds` uses up to c = 4, max(4, c) above); d true: the indicator's actual variance"]
    md += ["inflation. Coverage: the 95 % interval of the p95 without and with d (batch 4).", ""]
    md += ["| phi | n | d true | mean d (b4) | mean d (b16) | none over | false meets: plain | d b4 | d b16 "]
    md[-1] += "| false breaches: plain | d b4 | coverage plain | coverage d b4 |"
    md += ["|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["ar1_one_look"]:
        md += [
            f"| {r['phi']} | {r['n']} | {r['d_true']} | {r['mean_d4']} | {r['mean_d16']} | {pct(r['none_over'], 1)} "
            f"| {pct(r['plain_meets'], 1)} | {pct(r['d4_meets'], 1)} | {pct(r['d16_meets'], 1)} "
            f"| {pct(r['plain_breaches'], 1)} | {pct(r['d4_breaches'], 1)} | {pct(r['coverage_plain'], 1)} "
            f"| {pct(r['coverage_d4'], 1)} |"
        ]
    md += [
        "",
        "The shipped sequential rule (default plan, 2 variants, design effect with batch max(4, c)):",
        "",
    ]
    md += ["| phi | c | meets | bound | breaches | bound | undecided | mean measured |"]
    md += ["|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["ar1_sequential"]:
        md += [
            f"| {r['phi']} | {r['concurrency']} | {pct(r['meets'])} | {pct(r['meets_bound'])} | {pct(r['breaches'])} "
            f"| {pct(r['breaches_bound'])} | {pct(r['undecided'])} | {r['mean_measured']} |"
        ]
    return "\n".join(md) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000, help="draws per case (coverage, one look)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    draws = args.draws
    started = time.perf_counter()
    result: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "command": "nice python bench/interval_coverage.py"
        + (f" --draws {draws}" if draws != 10_000 else ""),
        "python": platform.python_version(),
        "seed": SEED,
        "distributions": [{"name": k, "label": v[2], "p95": v[1]} for k, v in DISTRIBUTIONS.items()],
    }
    print("1. coverage", flush=True)
    result["coverage"] = coverage(draws, [20, 30, 59, 72, 100, 200, 400, 1000])
    print("2. one look", flush=True)
    result["one_look"] = one_look(draws, [20, 59, 100, 128, 256, 512], [0.05, 0.0125, 0.003125])
    print("3. sequential", flush=True)
    result["sequential"] = sequential(max(1000, draws // 2))
    print("4. autocorrelation", flush=True)
    result["ar1_one_look"] = ar1_one_look(max(1000, draws // 2), [0.3, 0.5, 0.8], [64, 128, 256, 512])
    result["ar1_sequential"] = ar1_sequential(max(500, draws // 5), [0.5, 0.8])
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "interval_coverage.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "interval_coverage.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
