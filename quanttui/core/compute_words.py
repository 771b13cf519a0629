"""compute_graphs.md: the variants' compute profiles side by side and what they say (issue 18).

Pure text from `ComputeProfile`s. The bullets answer "did INT4 move the decode step toward a FLOP
ceiling, or only reduce bandwidth pressure?" from the numbers, each with its number; a claim whose
data is missing (weight bytes, a hardware bound) says what is missing instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from quanttui.core.catalog import escape_cell, escape_prose
from quanttui.core.compute import GAPS, ComputeProfile, PhaseProfile
from quanttui.core.literal import safe_text

GEMMS = ("dense GEMM", "quantized GEMM")
# A GEMM that only streams its weights takes time in proportion to the bytes: when INT4's GEMM time
# fell by at least this share of the bytes' ratio, the GEMMs were limited by reading weights.
BANDWIDTH_TRACKING = 0.75


@dataclass(frozen=True)
class ProfiledVariant:
    variant: str
    precision: str
    profile: ComputeProfile
    trace: str  # the trace's file name in the report folder
    capture_s: float | None = None
    trace_bytes: int | None = None
    weights_bytes: int | None = None  # the weights the engine reads each decode step
    bandwidth_gbps: float | None = None  # the hardware bound the roofline uses, when known


def _ms(phase: PhaseProfile, category: str) -> float:
    return next((c.ms for c in phase.categories if c.category == category), 0.0)


def per_step(phase: PhaseProfile, category: str) -> float:
    return _ms(phase, category) / phase.steps if phase.steps else 0.0


def gemm_per_step(phase: PhaseProfile) -> float:
    return sum(per_step(phase, c) for c in GEMMS)


def achieved_gbps(v: ProfiledVariant) -> float | None:
    """Weight bytes over the decode step's GEMM time: the bandwidth the GEMMs drew from memory
    (they read every weight once a step); None without weight bytes or GEMM time."""
    decode = v.profile.phase("decode")
    if decode is None or not v.weights_bytes:
        return None
    gemm_ms = gemm_per_step(decode)
    return v.weights_bytes / (gemm_ms / 1000) / 1e9 if gemm_ms > 0 else None


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "—"


def bullets(variants: list[ProfiledVariant]) -> list[str]:
    """3-5 findings per variant against the baseline (the first), from their decode steps."""
    if not variants:
        return ["No profile was captured."]
    base = variants[0]
    lines: list[str] = []
    b = base.profile.phase("decode")
    if b is None:
        return [f"{base.variant}: the profile holds no decode step, so nothing is compared."]
    for other in variants[1:]:
        o = other.profile.phase("decode")
        if o is None:
            lines.append(f"{other.variant}: the profile holds no decode step.")
            continue
        ratio = o.step_ms_mean / b.step_ms_mean if b.step_ms_mean else float("nan")
        lines.append(
            f"Decode step: {other.variant} {o.step_ms_mean:.1f} ms vs {base.variant} {b.step_ms_mean:.1f} ms "
            f"(x{ratio:.2f})."
        )
        bg, og = gemm_per_step(b), gemm_per_step(o)
        dq = per_step(o, "dequantization")
        lines.append(
            f"GEMM time per decode step: {base.variant} {bg:.1f} ms ({_share(bg, b.step_ms_mean)} of the step), "
            f"{other.variant} {og:.1f} ms ({_share(og, o.step_ms_mean)}; quantized {per_step(o, 'quantized GEMM'):.1f} ms, "
            f"dense {per_step(o, 'dense GEMM'):.1f} ms, separate dequantization {dq:.1f} ms)."
        )
        lines.append(
            f"Time with no op running (Python, scheduling): {base.variant} {b.gap_share:.0%} of the step, "
            f"{other.variant} {o.gap_share:.0%}: the part of the step quantization cannot shrink."
        )
        if base.weights_bytes and other.weights_bytes and bg and og:
            bytes_ratio = base.weights_bytes / other.weights_bytes
            time_ratio = bg / og
            if time_ratio >= BANDWIDTH_TRACKING * bytes_ratio:
                verdict = (
                    "GEMM time fell about as much as the bytes: the decode GEMMs were limited by reading "
                    "weights, and INT4 relieved that bandwidth pressure"
                )
            elif time_ratio < 1:
                verdict = (
                    "the INT4 GEMMs took longer than the dense ones: unpacking int4 costs more here than "
                    "reading fewer bytes saves, so this step is not limited by memory bandwidth"
                )
            else:
                verdict = (
                    "GEMM time fell far less than the bytes: the INT4 GEMMs are limited by their own work "
                    "(unpacking, multiplying), not by reading weights; a hardware bound would say how close"
                )
            lines.append(
                f"Weights read per step: {base.variant} {base.weights_bytes / 1e6:.0f} MB, {other.variant} "
                f"{other.weights_bytes / 1e6:.0f} MB (x{1 / bytes_ratio:.2f}); GEMM time x{1 / time_ratio:.2f}: {verdict}."
            )
        else:
            lines.append(
                "Weight bytes per variant unknown (give --model-dir NAME=DIR): bandwidth not computed."
            )
        bw = [(v, achieved_gbps(v)) for v in (base, other)]
        if all(g is not None for _, g in bw):
            bound = base.bandwidth_gbps
            words = ", ".join(f"{v.variant} {g:.1f} GB/s" for v, g in bw)
            if bound:
                lines.append(
                    f"Weight bandwidth drawn by the decode GEMMs: {words}, against a bound of {bound:.0f} GB/s."
                )
            else:
                lines.append(
                    f"Weight bandwidth drawn by the decode GEMMs: {words}; no hardware bound known here."
                )
    return lines


def _table(variants: list[ProfiledVariant], phase_name: str) -> list[str]:
    phases = [(v, v.profile.phase(phase_name)) for v in variants]
    phases = [(v, p) for v, p in phases if p is not None]
    if not phases:
        return []
    categories: list[str] = []
    for _, p in phases:
        categories += [c.category for c in p.categories if c.category not in categories]
    head = "| category | " + " | ".join(f"{escape_cell(v.variant)} ms/step | share" for v, _ in phases) + " |"
    rows = [f"### {phase_name.capitalize()}", "", head, "|---|" + "---:|---:|" * len(phases)]
    for category in sorted(categories, key=lambda c: (c == GAPS, c)):
        cells = []
        for _, p in phases:
            share = next((c.share for c in p.categories if c.category == category), 0.0)
            cells.append(f"{per_step(p, category):.2f} | {share:.1%}")
        rows.append(f"| {escape_cell(category)} | " + " | ".join(cells) + " |")
    rows.append(
        "| **step** | "
        + " | ".join(
            f"**{p.step_ms_mean:.2f}** (p50 {p.step_ms_p50:.2f}, {p.steps} steps) | 100%" for _, p in phases
        )
        + " |"
    )
    rows.append("")
    for v, p in phases:
        rows += [
            f"Top ops, {escape_prose(v.variant)} ({phase_name}):",
            "",
            "| op | category | calls | total ms | mean µs |",
            "|---|---|---:|---:|---:|",
        ]
        rows += [
            f"| {_name(o.name)} | {escape_cell(o.category)} | {o.calls:,} | {o.total_ms:,.2f} | {o.mean_us:,.1f} |"
            for o in p.top_ops
        ]
        if p.other_names:
            rows.append(f'\nNames no rule knows ("other"): {", ".join(_name(n) for n in p.other_names)}')
        rows.append("")
    return rows


def _name(text: str) -> str:
    """An op's name from a trace file (foreign text): a code span when it can be one, else escaped."""
    if any(c in text for c in "`|\n") or safe_text(text) != text:
        return escape_cell(text)
    return f"`{text}`"


def compute_markdown(
    variants: list[ProfiledVariant],
    request: str,
    unavailable: dict[str, str] | None = None,
    traces_dir: str = "traces",
) -> str:
    """`unavailable`: why a variant's newest run gave no profile (words from ComputeFold.problem:
    "no profile: ..." or "the newest capture failed ...")."""
    lines = [
        "# Compute graphs",
        "",
        f"One profiled generation per variant: {escape_prose(request) if request else '—'}.",
        "",
    ]
    for name, reason in (unavailable or {}).items():
        lines.append(f"- **{escape_prose(name)}**: {escape_prose(reason)}")
    if unavailable:
        lines.append("")
    lines += ["## What it says", ""]
    lines += [f"- {escape_prose(b)}" for b in bullets(variants)]  # names from a recording: foreign text
    lines += ["", "## Where the time goes", "",
              "Self time of each op on the engine worker's main thread (an op's time less the ops nested in it; "
              "on a GPU trace, each kernel's time); "
              "*gaps* is the time inside a step when nothing ran. Category times plus gaps add up to the step.", ""]  # fmt: skip
    for phase in ("decode", "prefill", "mixed", "step"):
        lines += _table(variants, phase)
    lines += ["## Traces", ""]
    for v in variants:
        size = f", {v.trace_bytes / 1e6:.1f} MB" if v.trace_bytes else ""
        took = f", captured in {v.capture_s:.0f} s" if v.capture_s is not None else ""
        lines.append(
            f"- {escape_prose(v.variant)} ({escape_prose(v.precision)}): {_name(f'{traces_dir}/{v.trace}')}{size}{took}"
        )
    lines += ["", "Open a trace at https://ui.perfetto.dev (Open trace file; gzipped files open as they are) "
              "or in chrome://tracing.", ""]  # fmt: skip
    return "\n".join(lines)
