"""The failure catalog: what the operator tagged (and the flags and divergences beside it) as
markdown, and as rows for CSV and JSON.

Model output and operator notes are hostile text as far as markdown is concerned: every table
cell goes through `escape_cell` (pipes, newlines, HTML, backticks, control characters), and quoted
answers sit in fenced blocks whose fence is longer than any backtick run inside, so the document
always renders as intended.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quanttui.core.literal import safe_text
from quanttui.core.triage import Divergence, Tag, TriageOutput


@dataclass(frozen=True)
class CatalogPrompt:
    id: str
    category: str
    prompt_text: str


@dataclass(frozen=True)
class CatalogCell:
    verdict: str | None  # None: untagged
    symptom: str
    notes: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class CatalogRow:
    prompt_id: str
    category: str
    cells: dict[str, CatalogCell]  # by variant


def escape_cell(text: str) -> str:
    """One markdown table cell that renders as the literal text, on one line."""
    text = safe_text(text, keep_newlines=True)
    text = html.escape(text, quote=False)
    text = text.replace("\\", "&#92;").replace("|", "&#124;").replace("`", "&#96;")
    text = text.replace("*", "&#42;").replace("[", "&#91;").replace("]", "&#93;")
    text = "<br>".join(part.strip() for part in text.split("\n"))
    return text.strip() or " "


def escape_prose(text: str) -> str:
    """Inline text outside a table: one line that cannot start a heading or open a tag."""
    text = escape_cell(text).replace("<br>", " ")
    return "&#35;" + text[1:] if text.startswith("#") else text


def fenced(text: str) -> str:
    """A fenced block that cannot be closed early by the text inside."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = safe_text(text, keep_newlines=True)
    return f"{fence}text\n{body}\n{fence}"


def catalog_rows(
    prompts: Sequence[CatalogPrompt],
    variants: Sequence[str],
    outputs: Sequence[TriageOutput],
    tags: Mapping[tuple[str, str], Tag],
) -> list[CatalogRow]:
    by_key = {(o.prompt_id, o.variant): o for o in outputs}
    rows = []
    for prompt in prompts:
        cells = {}
        for variant in variants:
            tag = tags.get((prompt.id, variant))
            output = by_key.get((prompt.id, variant))
            cells[variant] = CatalogCell(
                verdict=tag.verdict if tag else None,
                symptom=tag.symptom if tag else "",
                notes=tag.notes if tag else "",
                flags=tuple(f.kind for f in output.flags) if output else (),
            )
        rows.append(CatalogRow(prompt.id, prompt.category, cells))
    return rows


def _untagged_text(cell: CatalogCell) -> str:
    """An untagged cell keeps its automatic flags: they say where to look first."""
    return "untagged" + (f" (flags: {', '.join(cell.flags)})" if cell.flags else "")


def _ok_text(cell: CatalogCell) -> str:
    if cell.verdict is None:
        return _untagged_text(cell)
    return "yes" if cell.verdict == "ok" else f"no: {cell.verdict}"


def _issue_text(cell: CatalogCell) -> str:
    if cell.verdict is None:
        return _untagged_text(cell)
    return "none" if cell.verdict == "ok" else cell.verdict


def telling_examples(
    rows: list[CatalogRow], variants: Sequence[str], divergences: Sequence[Divergence]
) -> list[tuple[CatalogRow, str]]:
    """Prompts where the reference is fine and a quantized variant is not: tagged issues first,
    then flags, then the largest KL."""
    reference, others = variants[0], variants[1:]
    kl = {(d.prompt_id, d.variant): d.mean_kl or 0.0 for d in divergences}
    scored = []
    for row in rows:
        ref = row.cells[reference]
        if ref.verdict not in (None, "ok"):
            continue
        for variant in others:
            cell = row.cells[variant]
            tagged = cell.verdict not in (None, "ok")
            if tagged or cell.flags or kl.get((row.prompt_id, variant), 0) > 0:
                score = (
                    2 if tagged else 0,
                    len(cell.flags) - len(ref.flags),
                    kl.get((row.prompt_id, variant), 0.0),
                )
                scored.append((score, row, variant))
    scored.sort(key=lambda item: item[0], reverse=True)
    chosen, seen = [], set()
    for _, row, variant in scored:
        if row.prompt_id not in seen:
            chosen.append((row, variant))
            seen.add(row.prompt_id)
        if len(chosen) == 3:
            break
    return chosen


def render_markdown(
    title: str,
    context: str,
    prompts: Sequence[CatalogPrompt],
    variants: Sequence[str],
    outputs: Sequence[TriageOutput],
    tags: Mapping[tuple[str, str], Tag],
    divergences: Sequence[Divergence] = (),
) -> str:
    rows = catalog_rows(prompts, variants, outputs, tags)
    reference = variants[0]
    out = [f"# {escape_prose(title)}", "", escape_prose(context), ""]
    if len(variants) == 2:
        quant = variants[1]
        header = ["prompt_id", "category", f"{reference}_ok?", f"{quant}_issue?", "symptom", "notes"]
        out += ["| " + " | ".join(escape_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
        for row in rows:
            ref, q = row.cells[reference], row.cells[quant]
            symptom = q.symptom or ref.symptom
            notes = "; ".join(n for n in (ref.notes and f"{reference}: {ref.notes}", q.notes) if n)
            cells = [row.prompt_id, row.category, _ok_text(ref), _issue_text(q), symptom, notes]
            out.append("| " + " | ".join(escape_cell(c) for c in cells) + " |")
    else:
        header = ["prompt_id", "category", *variants, "symptom", "notes"]
        out += ["| " + " | ".join(escape_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
        for row in rows:
            verdicts = [row.cells[v].verdict or _untagged_text(row.cells[v]) for v in variants]
            symptom = "; ".join(f"{v}: {row.cells[v].symptom}" for v in variants if row.cells[v].symptom)
            notes = "; ".join(f"{v}: {row.cells[v].notes}" for v in variants if row.cells[v].notes)
            cells = [row.prompt_id, row.category, *verdicts, symptom, notes]
            out.append("| " + " | ".join(escape_cell(c) for c in cells) + " |")
    out += ["", "## Counts by category and variant", ""]
    categories = list(dict.fromkeys(row.category for row in rows))
    header = ["category", "prompts", *(f"{v} issues" for v in variants), *(f"{v} untagged" for v in variants)]
    out += ["| " + " | ".join(escape_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for category in [*categories, "all"]:
        chosen = [r for r in rows if category in ("all", r.category)]
        issues = [sum(1 for r in chosen if r.cells[v].verdict not in (None, "ok")) for v in variants]
        untagged = [sum(1 for r in chosen if r.cells[v].verdict is None) for v in variants]
        cells = [category, str(len(chosen)), *map(str, issues), *map(str, untagged)]
        out.append("| " + " | ".join(escape_cell(c) for c in cells) + " |")
    out += ["", "## The three most telling examples", ""]
    texts = {(o.prompt_id, o.variant): o for o in outputs}
    prompt_text = {p.id: p.prompt_text for p in prompts}
    telling = telling_examples(rows, variants, divergences)
    if not telling:
        out.append("None: no prompt where the reference is fine and a quantized variant is not.")
    for row, variant in telling:
        cell = row.cells[variant]
        why = cell.verdict if cell.verdict not in (None, "ok") else ", ".join(cell.flags) or "divergence"
        out += [f"### {escape_prose(row.prompt_id)} ({escape_prose(row.category)}): {escape_prose(variant)} — "
                f"{escape_prose(str(why))}", ""]  # fmt: skip
        if cell.symptom:
            out += [f"Symptom: {escape_prose(cell.symptom)}", ""]
        excerpt = prompt_text.get(row.prompt_id, "")
        excerpt = excerpt if len(excerpt) <= 600 else excerpt[:300] + "\n[…]\n" + excerpt[-200:]
        out += ["Prompt:", "", fenced(excerpt), ""]
        for name in (reference, variant):
            answer = texts.get((row.prompt_id, name))
            out += [f"{escape_prose(name)}:", "", fenced(answer.text if answer else "(no answer)"), ""]
    out += ["## Patterns", ""]
    out += _patterns(rows, variants, categories, divergences)
    return "\n".join(out).rstrip() + "\n"


def _patterns(
    rows: list[CatalogRow], variants: Sequence[str], categories: list[str], divergences: Sequence[Divergence]
) -> list[str]:
    reference = variants[0]
    lines = []
    for variant in variants[1:]:
        worse = []
        for category in categories:
            chosen = [r for r in rows if r.category == category]
            ref = sum(1 for r in chosen if r.cells[reference].verdict not in (None, "ok"))
            quant = sum(1 for r in chosen if r.cells[variant].verdict not in (None, "ok"))
            if quant > ref:
                worse.append(f"{category} ({quant} vs {ref})")
        flagged = Counter(k for r in rows for k in r.cells[variant].flags)
        ref_flagged = Counter(k for r in rows for k in r.cells[reference].flags)
        more = [
            f"{k} ({n} vs {ref_flagged.get(k, 0)})"
            for k, n in flagged.most_common()
            if n > ref_flagged.get(k, 0)
        ]
        lines.append(
            f"- {escape_prose(variant)} fails more than {escape_prose(reference)} in: "
            + (escape_prose(", ".join(worse)) if worse else "no category (by the tags so far)")
        )
        if more:
            lines.append(
                f"- automatic flags more frequent on {escape_prose(variant)}: {escape_prose(', '.join(more))}"
            )
        measured = [d for d in divergences if d.variant == variant and d.mean_kl is not None]
        if measured:
            kl = sum(d.mean_kl or 0 for d in measured) / len(measured)
            top1 = sum(d.top1_agreement or 0 for d in measured) / len(measured)
            lines.append(
                f"- {escape_prose(variant)} vs {escape_prose(reference)} along the reference's answers: mean KL "
                f"{kl:.4f} nats, top-1 agreement {top1:.1%} ({len(measured)} prompts)"
            )
    return lines


def catalog_json(
    prompts: Sequence[CatalogPrompt],
    variants: Sequence[str],
    outputs: Sequence[TriageOutput],
    tags: Mapping[tuple[str, str], Tag],
    divergences: Sequence[Divergence] = (),
) -> dict[str, object]:
    return {
        "format": "quanttui-failure-catalog",
        "variants": list(variants),
        "reference": variants[0] if variants else None,
        "prompts": [{"id": p.id, "category": p.category, "prompt": p.prompt_text} for p in prompts],
        "outputs": [
            {
                "prompt_id": o.prompt_id,
                "variant": o.variant,
                "text": o.text,
                "finish_reason": o.finish_reason,
                "output_tokens": o.output_tokens,
                "error": o.error,
                "flags": [{"kind": f.kind, "evidence": f.evidence} for f in o.flags],
            }  # fmt: skip
            for o in outputs
        ],
        "tags": [
            {
                "prompt_id": t.prompt_id,
                "variant": t.variant,
                "verdict": t.verdict,
                "symptom": t.symptom,
                "notes": t.notes,
                "at": t.at,
            }  # fmt: skip
            for t in tags.values()
        ],
        "divergences": [
            {
                "prompt_id": d.prompt_id,
                "variant": d.variant,
                "reference": d.reference,
                "positions": d.positions,
                "mean_kl": d.mean_kl,
                "top1_agreement": d.top1_agreement,
                "detail": d.detail,
            }  # fmt: skip
            for d in divergences
        ],
    }
