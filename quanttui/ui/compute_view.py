"""The Compute screen's content from the fold's profiles: pure words and segments (issue 18).

Each variant's step is one stacked bar of its categories, every bar on one scale (the slowest
variant's step fills the width), so the bars' lengths compare the steps and their parts compare
where the time goes. Each category has a glyph as well as a theme colour, so the bars read on a
monochrome terminal too. The top-ops table puts the variants' ms per step side by side and marks
an op whose time certainly differs by more than `DIFFERS` and by a material part of the step (or
that one variant does not run at all: the dense matmul that INT4 replaces). The timeline strip is each step's duration, in order, on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from quanttui.core.compute import CATEGORIES, CATEGORY_COLOUR, GAPS, OTHER, TOP_OPS, PhaseProfile
from quanttui.core.compute_events import ComputeFold
from quanttui.core.compute_words import ProfiledVariant, per_step

# category -> (theme variable, glyph). The variables have defaults in ui/themes.py.
_GLYPHS = {
    "dense GEMM": "█", "quantized GEMM": "▓", "dequantization": "▒", "attention": "▚",
    "norms / activations": "▞", "sampling / logits": "▙", "memory copies": "▄", "communication": "▀",
    "tensor bookkeeping": "░", OTHER: "▟", GAPS: "·",
}  # fmt: skip
CATEGORY_LOOK: dict[str, tuple[str, str]] = {
    name: (CATEGORY_COLOUR[name], _GLYPHS[name]) for name in CATEGORIES
}
assert set(CATEGORY_LOOK) == set(CATEGORIES)
assert len({glyph for _, glyph in CATEGORY_LOOK.values()}) == len(CATEGORY_LOOK)  # monochrome terminals
PHASES = ("decode", "prefill", "mixed", "step")
# An op's time per step differs when the larger is over 1.25x the smaller and the difference is at
# least 2 % of the longer step (smaller differences are noise, not what quantization changed).
DIFFERS = 0.25
MATERIAL = 0.02
TOP_ROWS = 10
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Segment:
    text: str
    category: str | None = None  # styled as the category (None: plain)


@dataclass(frozen=True)
class OpRow:
    name: str
    category: str
    # per variant: its ms per step; None: not among that variant's top ops, whose smallest is
    # `below` (None when the list is complete: the op does not run there at all)
    ms_per_step: tuple[float | None, ...]
    below: tuple[float | None, ...]
    differs: bool

    def cell(self, i: int) -> str:
        ms = self.ms_per_step[i]
        if ms is not None:
            return f"{ms:.2f}"
        return "—" if self.below[i] is None else f"<{self.below[i]:.2f}"


def phases_of(variants: list[ProfiledVariant]) -> list[str]:
    """The phases any variant has, decode first (what the study asks about)."""
    return [p for p in PHASES if any(v.profile.phase(p) is not None for v in variants)]


def stacked_bar(phase: PhaseProfile, width: int, scale_ms: float) -> list[Segment]:
    """One step's categories as a bar of `width * step / scale` cells, largest rounding kept
    honest: cells go to categories by largest remainder, so the parts add up to the bar."""
    if scale_ms <= 0 or phase.steps == 0:
        return []
    cells = round(width * phase.step_ms_mean / scale_ms)
    parts = [(c.category, per_step(phase, c.category)) for c in phase.categories]
    total = sum(ms for _, ms in parts) or 1.0
    exact = [(name, cells * ms / total) for name, ms in parts]
    given = {name: int(x) for name, x in exact}
    left = cells - sum(given.values())
    for name, _ in sorted(exact, key=lambda kv: -(kv[1] - int(kv[1])))[:left]:
        given[name] += 1
    order = [name for name in CATEGORIES if given.get(name)]
    return [Segment(CATEGORY_LOOK[name][1] * given[name], name) for name in order]


def legend(variants: list[ProfiledVariant], phase: str) -> list[Segment]:
    """The categories these bars use, in bar order."""
    used = set()
    for v in variants:
        p = v.profile.phase(phase)
        if p is not None:
            used |= {c.category for c in p.categories}
    out: list[Segment] = []
    for name in CATEGORIES:
        if name in used:
            out += [Segment(CATEGORY_LOOK[name][1] * 2, name), Segment(f" {name}  ")]
    return out


def top_rows(variants: list[ProfiledVariant], phase: str, limit: int = TOP_ROWS) -> list[OpRow]:
    """The ops that take the most time per step in any variant, with each variant's time. An op
    missing from a variant's top list is "<x" (x: the smallest time on that list) when the list
    was cut at TOP_OPS, "—" only when the list is complete (the op does not run there)."""
    tables: list[dict[str, tuple[str, float]]] = []
    floors: list[float | None] = []
    step_ms = 0.0
    for v in variants:
        p = v.profile.phase(phase)
        table = {o.name: (o.category, o.total_ms / p.steps) for o in p.top_ops} if p and p.steps else {}
        tables.append(table)
        floors.append(min((ms for _, ms in table.values()), default=0.0) if len(table) >= TOP_OPS else None)
        step_ms = max(step_ms, p.step_ms_mean if p else 0.0)
    names: dict[str, float] = {}
    for table in tables:
        for name, (_, ms) in table.items():
            names[name] = max(names.get(name, 0.0), ms)
    rows = []
    for name in sorted(names, key=lambda n: -names[n])[:limit]:
        cells = tuple(table[name][1] if name in table else None for table in tables)
        below = tuple(None if cell is not None else floor for cell, floor in zip(cells, floors, strict=True))
        category = next(table[name][0] for table in tables if name in table)
        # what each variant spends at least and at most on it (an op off a cut list: 0 up to its floor)
        low = [c if c is not None else 0.0 for c in cells]
        high = [c if c is not None else (f or 0.0) for c, f in zip(cells, floors, strict=True)]
        differs = any(
            low[i] - high[j] >= MATERIAL * step_ms and low[i] > (1 + DIFFERS) * high[j]
            for i in range(len(cells))
            for j in range(len(cells))
            if i != j
        )
        rows.append(OpRow(name, category, cells, below, differs))
    return rows


def spark(values: tuple[float, ...], width: int, top: float) -> str:
    """Values in order as block heights on a 0..top scale, averaged into at most `width` cells."""
    if not values or width <= 0 or top <= 0:
        return ""
    per = max(1, -(-len(values) // width))  # ceil
    cells = [values[i : i + per] for i in range(0, len(values), per)]
    means = [sum(c) / len(c) for c in cells]
    levels = len(SPARK)  # a value of top fills the cell; top / 8 is the lowest block
    return "".join(SPARK[max(0, min(levels, round(m / top * levels)) - 1)] for m in means)


def status_line(compute: ComputeFold, can_profile: bool, variants: int) -> str:
    """Where profiling stands, and what the operator can do."""
    if compute.running is not None:
        ramp = " · ramp paused until it ends" if compute.running.paused_ramp else ""  # first: 80 columns
        return f"profiling {', '.join(compute.running.variants)}{ramp} · {compute.running.request}"
    if compute.empty:
        if can_profile:
            return (
                "no profile yet · press r to profile one generation per variant (the ramp pauses meanwhile)"
            )
        return "no profile in this recording (profiles are recorded from schema 5 on: `quanttui profile`, or r in a live console)"
    shown = f"{len(compute.profiles)} of {variants} variants profiled" if variants else ""
    again = " · r profiles again" if can_profile else ""
    return f"{shown} · {compute.request}{again}".strip(" ·")
