"""Automatic flags on a model's answer: suggestions with evidence, never a verdict.

Each flag says what was seen in one line a person can check against the text (the repeated
phrase and its count, the number found and the one expected, the syntax error and its line).
The code assert needs to run code and is decided in `io/code_check.py`; this module only finds
the code (`extract_python_code`), and says when it skipped a block in another language.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from quanttui.core.quality_set import QualityPrompt
from quanttui.core.triage import Flag

# Repetition: the share of word 4-grams that repeat an earlier one. Normal prose and code stay far
# below; a decoding loop ("the the the", a sentence over and over) goes far above.
REPEAT_N = 4
REPEAT_MIN_NGRAMS = 12
REPEAT_RATIO = 0.35
REPEAT_MIN_COUNT = 3

_REFUSALS = (
    "i can't help", "i cannot help", "i can't assist", "i cannot assist", "i'm sorry, but", "i am sorry, but",
    "as an ai", "i'm not able to", "i am not able to", "i cannot provide", "i can't provide", "i won't",
    "i must decline", "i cannot comply", "i can't comply",
)  # fmt: skip
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_NUMBER = re.compile(
    r"(?<![\w.])[-−]?\$?\d{1,3}(?:[,\u202f ]\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])[-−]?\$?\d+(?:\.\d+)?"
)
_PYTHON_TAGS = {"python", "py", "python3", ""}


@dataclass(frozen=True)
class ExtractedCode:
    code: str | None  # the Python to check, or None
    note: str  # how it was found, or why nothing was checked ("skipped: javascript block")


def extract_python_code(text: str) -> ExtractedCode:
    """The first fenced Python block (```python, ```py or a bare ```), else the whole answer when
    it looks like code. A block fenced as another language is skipped and said so."""
    blocks = _FENCE.findall(text)
    for lang, body in blocks:
        if lang.lower() in _PYTHON_TAGS:
            return ExtractedCode(body, f"```{lang or ''} block")
    if blocks:
        return ExtractedCode(None, f"skipped: {blocks[0][0].lower()} block, not Python")
    stripped = text.strip()
    if re.match(r"(def |class |import |from \w+ import )", stripped):
        return ExtractedCode(stripped, "unfenced code")
    return ExtractedCode(None, "no code block found")


def _script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    for script in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "CYRILLIC", "ARABIC", "HEBREW", "GREEK", "THAI",
                   "DEVANAGARI", "LATIN"):  # fmt: skip
        if name.startswith(script) or f" {script} " in f" {name} ":
            return "CJK" if script in ("HIRAGANA", "KATAKANA") else script
    return "OTHER"


def _scripts(text: str) -> Counter[str]:
    return Counter(s for s in map(_script, text) if s)


def _language_switch(prompt_text: str, text: str) -> Flag | None:
    expected = _scripts(prompt_text).most_common(1)
    seen = _scripts(text)
    if not expected or not seen:
        return None
    home = expected[0][0]
    total = sum(seen.values())
    foreign = {s: n for s, n in seen.items() if s != home}
    share = sum(foreign.values()) / total
    if share < 0.2 and not any(n >= 12 for n in foreign.values()):
        return None
    script = max(foreign, key=foreign.__getitem__)
    sample = "".join(ch for ch in text if _script(ch) == script)[:12]
    return Flag(
        "language_switch",
        f"{share:.0%} of letters are {script.lower()} (prompt is {home.lower()}): {sample!r}",
    )


def _repetition(text: str) -> Flag | None:
    words = text.lower().split()
    grams = [tuple(words[i : i + REPEAT_N]) for i in range(len(words) - REPEAT_N + 1)]
    if len(grams) < REPEAT_MIN_NGRAMS:
        # Short answers: a single word or short phrase looping ("yes yes yes yes ...").
        if len(words) >= 8 and len(set(words)) <= 2:
            return Flag(
                "repetition", f"{len(words)} words, only {len(set(words))} distinct: {' '.join(words[:4])!r}"
            )
        return None
    counts = Counter(grams)
    repeats = sum(c - 1 for c in counts.values())
    ratio = repeats / len(grams)
    gram, count = counts.most_common(1)[0]
    if ratio < REPEAT_RATIO or count < REPEAT_MIN_COUNT:
        return None
    return Flag("repetition", f"{ratio:.0%} of {REPEAT_N}-word runs repeat; {' '.join(gram)!r} x{count}")


def _numbers(text: str) -> list[float]:
    found = []
    for match in _NUMBER.findall(text):
        cleaned = (
            match.replace("$", "").replace("−", "-").replace(",", "").replace("\u202f", "").replace(" ", "")
        )
        try:
            found.append(float(cleaned))
        except ValueError:
            continue
    return found


def _numeric(prompt: QualityPrompt, text: str) -> Flag | None:
    if prompt.numeric is None:
        return None
    numbers = _numbers(text)
    expected = f"{prompt.numeric:g}"
    if not numbers:
        return Flag("numeric_mismatch", f"expected {expected}, found no number")
    last = numbers[-1]
    if abs(last - prompt.numeric) <= prompt.tolerance:
        return None
    return Flag("numeric_mismatch", f"expected {expected}, found {last:g} (the last number)")


def _contains(prompt: QualityPrompt, text: str) -> Flag | None:
    lower = text.lower()
    missing = [term for term in prompt.contains if term.lower() not in lower]
    if not missing:
        return None
    return Flag("reference_mismatch", "missing: " + ", ".join(repr(m) for m in missing))


def _code_syntax(prompt: QualityPrompt, text: str) -> Flag | None:
    if not prompt.python_parses:
        return None
    extracted = extract_python_code(text)
    if extracted.code is None:
        if extracted.note.startswith("skipped"):
            return None  # another language: not judged (the Compare screen shows the note)
        return Flag("code_syntax", "no Python code block in the answer")
    try:
        ast.parse(extracted.code)
    except SyntaxError as exc:
        return Flag("code_syntax", f"{exc.msg} at line {exc.lineno} of the {extracted.note}")
    return None


def _refusal(text: str) -> Flag | None:
    head = " ".join(text.lower().split())[:160]
    for phrase in _REFUSALS:
        if phrase in head:
            return Flag("refusal", f"starts with a refusal: {phrase!r}")
    return None


def flag_output(
    prompt: QualityPrompt, text: str, finish_reason: str | None, error: str = ""
) -> tuple[Flag, ...]:
    """Every flag that applies to one answer, in a stable order."""
    if error:
        return (Flag("request_error", error.splitlines()[0][:200]),)
    if not text.strip():
        flags = [
            Flag(
                "empty",
                "the answer is empty" + (f" (finish_reason {finish_reason})" if finish_reason else ""),
            )
        ]
        if finish_reason == "length":
            flags.append(Flag("truncated", "finish_reason length"))
        return tuple(flags)
    checks = (
        _repetition(text),
        Flag("truncated", f"finish_reason length: stopped at max_tokens {prompt.max_tokens}")
        if finish_reason == "length"
        else None,
        _language_switch(prompt.user_text, text),
        _code_syntax(prompt, text),
        _numeric(prompt, text),
        _contains(prompt, text),
        _refusal(text),
    )
    return tuple(flag for flag in checks if flag is not None)
