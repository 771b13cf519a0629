"""Runs side by side (`quanttui compare`): from different days, settings or machines.

A run is what its report says (`CompareRun`, core/compare_run.py). Two variants of different runs are compared by what the runs decided:
a capacity is known to lie in an interval (at least what the variant held, below where it
breached), so where the intervals overlap the runs do not differ, and the words say so rather than
pick a winner. Runs whose settings differ (SLO, lengths, workload) are compared all the same but
flagged in every sentence that crosses them. Pure: no files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from quanttui.core.capacity import VariantCapacity
from quanttui.core.compare_run import CompareRun, LevelPoint
from quanttui.core.levels import LevelKind, level_text


def capacity_interval(cap: VariantCapacity, points: Sequence[LevelPoint] = ()) -> tuple[float, float] | None:
    """Where the variant's capacity lies, [held, breached): `held` 0 when it held no level;
    `breached` the ending breach, else the lowest step of the variant decided "breaches" (an
    undecided step below it left the chain open), else infinite. None without an SLO."""
    if cap.slo_ms is None or cap.status == "no slo":
        return None
    low = cap.max_conc_meeting_slo or 0.0
    high = cap.first_conc_over_slo if cap.decided and cap.first_conc_over_slo is not None else math.inf
    breaches = [
        p.level for p in points if p.variant == cap.variant and p.decision == "breaches" and p.level > low
    ]
    return (low, min([high, *breaches]))


def _interval_text(cap: VariantCapacity, interval: tuple[float, float]) -> str:
    low, high = interval
    left = cap.at(low) if low else "0"
    right = cap.at(high) if math.isfinite(high) else "∞"
    return f"[{left}, {right})"


@dataclass(frozen=True)
class Entry:
    run: CompareRun
    cap: VariantCapacity

    @property
    def name(self) -> str:
        return f"{self.run.label} {self.cap.variant}"


@dataclass
class Comparison:
    runs: Sequence[CompareRun]
    differing: dict[str, list[str]] = field(default_factory=dict)  # setting -> each run's value

    def entries(self) -> list[Entry]:
        return [Entry(run, cap) for run in self.runs for cap in run.capacities]


def differing_settings(runs: Sequence[CompareRun]) -> dict[str, list[str]]:
    """The settings whose values are not the same in every run (a missing one shows as "—")."""
    names = list(dict.fromkeys(name for run in runs for name in run.settings))
    out = {}
    for name in names:
        values = [run.settings.get(name, "—") for run in runs]
        if len(set(values)) > 1:
            out[name] = values
    return out


def _holds(cap: VariantCapacity) -> str:
    """What a variant held, short: "holds 8", "holds none", "holds >= 16 (not reached)"."""
    held = cap.at(cap.max_conc_meeting_slo)
    match cap.status:
        case "decided" | "never met":
            return f"holds {held}"
        case "undecided":
            return f"holds {held} (undecided above)"
        case "not reached":
            return f"holds >= {held} (limit not reached)"
    return "has no SLO"


def _serves(entry: Entry) -> str:
    cap, run = entry.cap, entry.run
    price = f" for ${run.usd_per_hour:,.2f}/h" if run.usd_per_hour else ""
    return f"{run.label}: {cap.variant} on {run.where} {_holds(cap)}{price}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _slo(run: CompareRun) -> str:
    return f"p{run.percentile:g} {run.metric} <= {run.slo_ms:,.0f} ms" if run.slo_ms else "no SLO"


def _steps_comparable(a: CompareRun, b: CompareRun) -> str | None:
    """Why two runs' step percentiles are not on one scale, or None when they are."""
    if a.kind is not b.kind:
        return "their ramps vary different things"
    if (a.metric, a.percentile) != (b.metric, b.percentile):
        return f"their SLO percentiles differ (p{a.percentile:g} {a.metric} vs p{b.percentile:g} {b.metric})"
    return None


def _capacities_comparable(a: CompareRun, b: CompareRun) -> str | None:
    """Why two runs' capacities are not on one scale, or None when they are."""
    missing = [run.label for run in (a, b) if not run.slo_ms]
    if missing:
        return f"{' and '.join(missing)} had no SLO, so there is no capacity to compare"
    steps = _steps_comparable(a, b)
    if steps:
        return f"{steps}, so their capacities are not on one scale"
    if a.slo_ms != b.slo_ms:
        return f"their SLOs differ ({_slo(a)} vs {_slo(b)}), so their capacities are not on one scale"
    return None


def _common_levels(
    a: Entry, b: Entry
) -> tuple[dict[float, LevelPoint], dict[float, LevelPoint], list[float]]:
    mine = {p.level: p for p in a.run.points if p.variant == a.cap.variant and p.trial == 0}
    theirs = {p.level: p for p in b.run.points if p.variant == b.cap.variant and p.trial == 0}
    common = [
        level
        for level in sorted(mine)
        if level in theirs and mine[level].pct_ms is not None and theirs[level].pct_ms is not None
    ]
    return mine, theirs, common


def step_differences(a: Entry, b: Entry) -> str:
    """The two variants' SLO percentile at the levels both ran (first trial), judged by their
    intervals: the levels where the intervals do not overlap, or that none differ; "" when there
    is nothing on one scale to compare."""
    if _steps_comparable(a.run, b.run):
        return ""
    mine, theirs, common = _common_levels(a, b)
    if not common:
        return ""
    differ = []
    for level in common:
        p, q = mine[level], theirs[level]
        p_lo, p_hi = p.pct_lo_ms or 0.0, p.pct_hi_ms if p.pct_hi_ms is not None else math.inf
        q_lo, q_hi = q.pct_lo_ms or 0.0, q.pct_hi_ms if q.pct_hi_ms is not None else math.inf
        if p_hi < q_lo or q_hi < p_lo:
            differ.append(f"{_level(a.run, level)}: {_ms(p.pct_ms)} ms [{_ms(p.pct_lo_ms)}, {_ms(p.pct_hi_ms)}] vs "
                          f"{_ms(q.pct_ms)} ms [{_ms(q.pct_lo_ms)}, {_ms(q.pct_hi_ms)}]")  # fmt: skip
    pct = f"p{a.run.percentile:g} {a.run.metric}"
    levels = ", ".join(f"{v:g}" for v in common)
    if not differ:
        return f"their {pct} at the levels both ran ({levels}) do not differ (the 95 % intervals overlap)"
    return f"their {pct} differs at " + "; ".join(differ) + " (95 % intervals apart)"


def pair_sentence(a: Entry, b: Entry, differing: dict[str, list[str]]) -> str:
    """What two variants of different runs say side by side, from their capacity intervals."""
    first, second = _serves(a), _serves(b)
    ia, ib = capacity_interval(a.cap, a.run.points), capacity_interval(b.cap, b.run.points)
    why_not = _capacities_comparable(a.run, b.run)
    if why_not is None and (ia is None or ib is None):
        why_not = "no capacity to compare"
    if why_not is not None or ia is None or ib is None:
        relation = why_not or ""
    elif ia[1] <= ib[0]:
        relation = (f"{b.name} holds more than {a.name} at {_slo(a.run)} (capacity in {_interval_text(b.cap, ib)} "
                    f"vs {_interval_text(a.cap, ia)}: the intervals do not overlap)")  # fmt: skip
    elif ib[1] <= ia[0]:
        relation = (f"{a.name} holds more than {b.name} at {_slo(a.run)} (capacity in {_interval_text(a.cap, ia)} "
                    f"vs {_interval_text(b.cap, ib)}: the intervals do not overlap)")  # fmt: skip
    else:
        relation = (f"their capacities do not differ: {_interval_text(a.cap, ia)} and {_interval_text(b.cap, ib)} "
                    "overlap, so neither run shows more users held")  # fmt: skip
    sentence = f"{first}; {second}: {relation}"
    steps = step_differences(a, b)
    if steps:
        sentence += f"; {steps}"
    ua, ub = a.run.usd_per_million(a.cap), b.run.usd_per_million(b.cap)
    if ua is not None and ub is not None:
        sentence += (
            f"; $/1M output tokens at the SLO {ua:,.2f} vs {ub:,.2f} (no interval: one throughput each)"
        )
    ta, tb = a.cap.tok_s_at_max_safe, b.cap.tok_s_at_max_safe
    if ta and tb:
        sentence += f"; tok/s where each holds {ta:,.1f} vs {tb:,.1f}"
    sentence += "."
    if differing:
        sentence += f" Settings differ ({', '.join(differing)}): not a like-for-like comparison."
    return sentence


def _level(run: CompareRun, value: float) -> str:
    return f"c={value:g}" if run.kind is LevelKind.CONCURRENCY else level_text(run.kind, value)


def runs_summary(a: CompareRun, b: CompareRun) -> str:
    """How two runs differ, in one paragraph: settings, machine, price, how far each variant's ramp
    went, whether any figure with an interval separates them (or why nothing could be compared),
    and the figures without one."""
    parts = []
    differ = differing_settings([a, b])
    parts.append(f"settings differ ({', '.join(differ)})" if differ else "same settings")
    parts.append(f"machines {a.where} vs {b.where}" if a.where != b.where else f"both on {a.where}")
    if a.usd_per_hour != b.usd_per_hour:
        parts.append(f"price ${_n(a.usd_per_hour, 2)} vs ${_n(b.usd_per_hour, 2)}/h")
    shared = [c.variant for c in a.capacities if c.variant in {d.variant for d in b.capacities}]
    for name in shared:
        top_a = max((p.level for p in a.points if p.variant == name), default=None)
        top_b = max((p.level for p in b.points if p.variant == name), default=None)
        if top_a is not None and top_b is not None and top_a != top_b:
            parts.append(f"{name} ran up to {_level(a, top_a)} vs {_level(b, top_b)}")
    separated, compared = [], []
    capacity_why = _capacities_comparable(a, b)
    for name in shared:
        ea = Entry(a, next(c for c in a.capacities if c.variant == name))
        eb = Entry(b, next(c for c in b.capacities if c.variant == name))
        ia, ib = capacity_interval(ea.cap, a.points), capacity_interval(eb.cap, b.points)
        if capacity_why is None and ia and ib:
            compared.append(f"{name}'s capacity")
            if ia[1] <= ib[0] or ib[1] <= ia[0]:
                separated.append(f"{name}'s capacity")
        steps = step_differences(ea, eb)
        if steps:
            compared.append(
                f"{name}'s p{a.percentile:g} {a.metric} at {len(_common_levels(ea, eb)[2])} common step(s)"
            )
            if "differs at" in steps:
                separated.append(f"{name}'s p{a.percentile:g} {a.metric} at some levels")
    if separated:
        parts.append("apart at 95 %: " + ", ".join(separated) + " (pair by pair below)")
    elif compared:
        parts.append(
            "no figure with an interval tells them apart (" + ", ".join(compared) + ": each overlaps at 95 %)"
        )
    else:
        why = (
            "no variant in common"
            if not shared
            else (_steps_comparable(a, b) or capacity_why or "no common step")
        )
        parts.append(f"nothing with an interval could be compared ({why})")
    untested = [f"{name} {_n(next(c for c in a.capacities if c.variant == name).peak_tok_s)} vs "
                f"{_n(next(c for c in b.capacities if c.variant == name).peak_tok_s)}" for name in shared]  # fmt: skip
    if untested:
        parts.append("peak tok/s (no interval, not tested): " + ", ".join(untested))
    return f"{a.label} vs {b.label}: " + "; ".join(parts) + "."


def pair_sentences(runs: Sequence[CompareRun]) -> list[str]:
    """One sentence per pair of variants from different runs: the same variant name first, then
    the rest (a run's own variants are compared in its own report)."""
    differing = differing_settings(runs)
    entries = Comparison(runs).entries()
    pairs = [(a, b) for i, a in enumerate(entries) for b in entries[i + 1 :] if a.run is not b.run]
    pairs.sort(key=lambda p: p[0].cap.variant != p[1].cap.variant)
    return [pair_sentence(a, b, differing) for a, b in pairs]


def _n(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def compare_markdown(runs: Sequence[CompareRun]) -> str:
    """compare.md: the settings that differ, a table per run and variant, a sentence per pair."""
    out = ["# quanttui compare: " + " vs ".join(run.label for run in runs), ""]
    out += ["## How the runs differ", ""]
    out += [f"- {runs_summary(a, b)}" for i, a in enumerate(runs) for b in runs[i + 1 :]] or ["Only one run."]
    out += ["", "## Runs", ""]
    for run in runs:
        out.append(f"- **{run.label}**: {run.where}; {run.source or '—'}")
    differing = differing_settings(runs)
    out += ["", "## Settings", ""]
    if differing:
        out += ["Settings differ, so these runs are not like for like: each figure below holds under its "
                "own run's settings.", ""]  # fmt: skip
        out += ["| setting | " + " | ".join(run.label for run in runs) + " |", "|---|" + "---|" * len(runs)]
        out += [f"| {name} | " + " | ".join(values) + " |" for name, values in differing.items()]
    else:
        names = list(runs[0].settings) if runs else []
        out.append("Same in every run: " + "; ".join(f"{n} {runs[0].settings[n]}" for n in names) + ".")
    out += ["", "## Capacity, throughput and cost per run and variant", ""]
    out += ["| run | variant | SLO | capacity | interval | tok/s where it holds | peak tok/s | $/h | $/1M at the SLO |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for entry in Comparison(runs).entries():
        run, cap = entry.run, entry.cap
        slo = f"p{run.percentile:g} {run.metric} <= {run.slo_ms:,.0f} ms" if run.slo_ms else "none"
        interval = capacity_interval(cap, run.points)
        cells = [run.label, cap.variant, slo, cap.holds_text(), _interval_text(cap, interval) if interval else "—",
                 _n(cap.tok_s_at_max_safe), _n(cap.peak_tok_s),
                 _n(run.usd_per_hour, 2), _n(run.usd_per_million(cap), 2)]  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Capacity interval: at least the level held, below the level a breach was decided at "
            "(∞: no breach decided). Two runs differ only where their intervals do not overlap.", ""]  # fmt: skip
    out += ["## Pair by pair", ""]
    sentences = pair_sentences(runs)
    out += [f"- {s}" for s in sentences] if sentences else ["Only one run: nothing to compare."]
    out += ["", "## Each run's own verdict", ""]
    for run in runs:
        out += [f"- {run.label}: {s}" for s in run.sentences] or [f"- {run.label}: —"]
    return "\n".join(out) + "\n"
