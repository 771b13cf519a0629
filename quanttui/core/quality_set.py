"""Quality prompt sets: what each prompt asks, how its answer can be checked, and the file format.

A set is JSON Lines (one prompt object per line; blank lines and `#` comments skipped) so every
error can name its line. Fields of a prompt:

  id (str, unique)            category (one of core.triage.CATEGORIES)
  prompt (str) or messages ([[role, content], ...], roles system/user/assistant)
  reference (str, optional)   a reference answer, shown beside the outputs
  max_tokens (int, default 256)
  checks (object, optional):
    numeric: number           the final number of the answer must equal it (within tolerance)
    tolerance: number         absolute, default 1e-6
    contains: [str, ...]      each must appear (case-insensitive)
    python_parses: bool       the answer's Python code block must parse
    python_assert: str        a tiny assert run against that code (in a sandboxed subprocess)
  fill_to (float in (0, 1))   long context: each `{context}` in the prompt is filled with filler
                              text, together up to this share of the model's window (a needle
                              written between two placeholders ends up mid-context)
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from quanttui.core.triage import CATEGORIES


class QualitySetError(ValueError):
    """A prompt set that cannot be used: `<file>:<line>: <field>: <message>`."""


@dataclass(frozen=True)
class QualityPrompt:
    id: str
    category: str
    messages: tuple[tuple[str, str], ...]
    reference: str | None = None
    max_tokens: int = 256
    numeric: float | None = None
    tolerance: float = 1e-6
    contains: tuple[str, ...] = ()
    python_parses: bool = False
    python_assert: str | None = None
    fill_to: float | None = None

    def as_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    @property
    def user_text(self) -> str:
        users = [content for role, content in self.messages if role == "user"]
        return users[-1] if users else ""


@dataclass(frozen=True)
class QualitySet:
    name: str
    prompts: tuple[QualityPrompt, ...]
    source: str


_FIELDS = {"id", "category", "prompt", "messages", "reference", "max_tokens", "checks", "fill_to"}
_CHECKS = {"numeric", "tolerance", "contains", "python_parses", "python_assert"}
_ROLES = {"system", "user", "assistant"}


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(field, "expected a non-empty string")
    return value


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Bad(field, "expected a finite number")
    return float(value)


def _messages(data: dict[str, object]) -> tuple[tuple[str, str], ...]:
    if ("prompt" in data) == ("messages" in data):
        raise _Bad("prompt", "give exactly one of 'prompt' and 'messages'")
    if "prompt" in data:
        return (("user", _text(data["prompt"], "prompt")),)
    raw = data["messages"]
    if not isinstance(raw, list) or not raw:
        raise _Bad("messages", "expected a non-empty list of [role, content]")
    out = []
    for i, item in enumerate(raw):
        if not (isinstance(item, list) and len(item) == 2 and item[0] in _ROLES):
            raise _Bad(f"messages[{i}]", "expected [role, content] with role system, user or assistant")
        out.append((str(item[0]), _text(item[1], f"messages[{i}]")))
    if out[-1][0] != "user":
        raise _Bad("messages", "the last message must be the user's")
    return tuple(out)


def _prompt(data: object) -> QualityPrompt:
    if not isinstance(data, dict):
        raise _Bad("(line)", "expected a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise _Bad(unknown[0], "unknown field")
    pid = _text(data.get("id"), "id")
    category = data.get("category")
    if category not in CATEGORIES:
        raise _Bad("category", f"expected one of {', '.join(CATEGORIES)}")
    messages = _messages(data)
    reference = _text(data["reference"], "reference") if data.get("reference") is not None else None
    max_tokens = data.get("max_tokens", 256)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 32768:
        raise _Bad("max_tokens", "expected an integer from 1 to 32768")
    checks = data.get("checks", {})
    if not isinstance(checks, dict):
        raise _Bad("checks", "expected an object")
    unknown = sorted(set(checks) - _CHECKS)
    if unknown:
        raise _Bad(f"checks.{unknown[0]}", "unknown check")
    numeric = _number(checks["numeric"], "checks.numeric") if "numeric" in checks else None
    tolerance = _number(checks.get("tolerance", 1e-6), "checks.tolerance")
    if tolerance < 0:
        raise _Bad("checks.tolerance", "must be >= 0")
    contains = checks.get("contains", [])
    if not isinstance(contains, list) or not all(isinstance(c, str) and c.strip() for c in contains):
        raise _Bad("checks.contains", "expected a list of non-empty strings")
    parses = checks.get("python_parses", False)
    if not isinstance(parses, bool):
        raise _Bad("checks.python_parses", "expected true or false")
    snippet = checks.get("python_assert")
    if snippet is not None:
        snippet = _text(snippet, "checks.python_assert")
        try:
            ast.parse(snippet)
        except SyntaxError as exc:
            raise _Bad("checks.python_assert", f"does not parse: {exc.msg} (line {exc.lineno})") from None
    fill_to = data.get("fill_to")
    if fill_to is not None:
        fill_to = _number(fill_to, "fill_to")
        if not 0 < fill_to < 1:
            raise _Bad("fill_to", "expected a share of the window between 0 and 1")
        if not any("{context}" in content for _, content in messages):
            raise _Bad("prompt", "fill_to needs a {context} placeholder in the prompt")
    return QualityPrompt(
        id=pid, category=str(category), messages=messages, reference=reference, max_tokens=max_tokens,
        numeric=numeric, tolerance=tolerance, contains=tuple(contains), python_parses=parses or bool(snippet),
        python_assert=snippet, fill_to=fill_to,
    )  # fmt: skip


def parse_quality_set(lines: Iterable[str], source: str, name: str | None = None) -> QualitySet:
    prompts: list[QualityPrompt] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise QualitySetError(f"{source}:{number}: (line): not JSON ({exc.msg})") from None
        try:
            prompt = _prompt(data)
        except _Bad as bad:
            raise QualitySetError(f"{source}:{number}: {bad.field}: {bad.message}") from None
        if prompt.id in seen:
            raise QualitySetError(
                f"{source}:{number}: id: {prompt.id!r} already used on line {seen[prompt.id]}"
            )
        seen[prompt.id] = number
        prompts.append(prompt)
    if not prompts:
        raise QualitySetError(f"{source}:1: (file): no prompts")
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return QualitySet(name=name or stem, prompts=tuple(prompts), source=source)


# Filler for long-context prompts: an invented, bland logbook. The needle is placed in the middle.
_FILLER_ENTRIES = (
    "The morning inspection found the east conveyor running at its usual speed.",
    "A delivery of packing crates arrived and was stacked beside loading bay two.",
    "The night shift reported no alarms and swept the storage aisles before leaving.",
    "Maintenance replaced a worn belt on the sorting table and tested it for an hour.",
    "Two visitors from the regional office toured the floor and asked about labels.",
    "The cafeteria switched to the winter menu and extended its opening hours.",
    "A forklift battery was swapped after the charge indicator dropped below half.",
    "Inventory counts for aisle nine matched the ledger to the last box.",
)


def expand_long_context(
    prompt: QualityPrompt, window_tokens: int, chars_per_token: float = 3.0
) -> QualityPrompt:
    """Fill `{context}` so the prompt takes about `fill_to` of the window, leaving room for the
    answer. Sized from characters at a conservative 3 characters per token (English prose runs
    near 4), so the prompt never overflows the window; deterministic."""
    if prompt.fill_to is None:
        return prompt
    template_chars = sum(len(c.replace("{context}", "")) for _, c in prompt.messages)
    budget_tokens = prompt.fill_to * window_tokens - prompt.max_tokens - 32 - template_chars / chars_per_token
    budget_chars = max(0, int(budget_tokens * chars_per_token))
    slots = sum(c.count("{context}") for _, c in prompt.messages)
    day = 1

    def block(chars: int) -> str:
        nonlocal day
        entries: list[str] = []
        size = 0
        while True:
            line = f"Day {day}: {_FILLER_ENTRIES[(day * 5) % len(_FILLER_ENTRIES)]}"
            if size + len(line) + 1 > chars:
                return "\n".join(entries)
            entries.append(line)
            size += len(line) + 1
            day += 1

    messages = []
    for role, content in prompt.messages:
        parts = content.split("{context}")
        filled = parts[0]
        for part in parts[1:]:
            filled += (
                block(budget_chars // max(1, slots)) + part
            )  # a needle between two blocks sits mid-context
        messages.append((role, filled))
    return replace(prompt, messages=tuple(messages), fill_to=None)
