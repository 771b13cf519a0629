"""Word-level difference between two answers, for the Compare screen's highlighting.

Words are compared, whitespace is kept with the word before it, so each side's segments join
back into its exact text. `first_divergence` is where the two answers stop agreeing.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_WORDS = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class Segment:
    text: str
    kind: str  # "equal", or on the reference side "delete", on the other side "insert"; "replace" on both


@dataclass(frozen=True)
class WordDiff:
    left: tuple[Segment, ...]
    right: tuple[Segment, ...]
    first_divergence: tuple[int, int, int] | None  # (word index, char offset left, char offset right)


def _tokens(text: str) -> list[str]:
    return _WORDS.findall(text)


def word_diff(left: str, right: str) -> WordDiff:
    a, b = _tokens(left), _tokens(right)
    matcher = difflib.SequenceMatcher(None, [w.strip() for w in a], [w.strip() for w in b], autojunk=False)
    left_out: list[Segment] = []
    right_out: list[Segment] = []
    first: tuple[int, int, int] | None = None
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal" and first is None:
            first = (i1, len("".join(a[:i1])), len("".join(b[:j1])))
        kind_left = {"equal": "equal", "delete": "delete", "insert": "", "replace": "replace"}[op]
        kind_right = {"equal": "equal", "delete": "", "insert": "insert", "replace": "replace"}[op]
        if i2 > i1:
            left_out.append(Segment("".join(a[i1:i2]), kind_left))
        if j2 > j1:
            right_out.append(Segment("".join(b[j1:j2]), kind_right))
    return WordDiff(tuple(left_out), tuple(right_out), first)
