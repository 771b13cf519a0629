"""The vocabulary of quality triage, shared by the runner, the flags, the journal, the exports and
the Compare screen. Pure data: no IO.

A triage session runs every prompt of a quality set on every variant (greedy, fixed seed). Each
output gets automatic flags (suggestions, each with its evidence) and, from the operator, a tag:
"ok" or one issue of a fixed taxonomy, with a symptom line and notes.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES: tuple[str, ...] = ("factual", "eli5", "reasoning", "code", "summarization", "long_context")

# The operator's verdicts: "ok" or one issue of this fixed taxonomy (in key order of the UI).
ISSUES: tuple[str, ...] = (
    "repetition",
    "wrong_answer",
    "broken_code",
    "truncated",
    "format_break",
    "language_switch",
    "hallucination",
    "refusal",
    "other",
)
VERDICTS: tuple[str, ...] = ("ok", *ISSUES)

# Automatic flag kinds. A flag is a suggestion with evidence, never a verdict.
FLAG_KINDS: tuple[str, ...] = (
    "empty",
    "repetition",
    "truncated",
    "language_switch",
    "code_syntax",  # a Python code block that does not parse
    "code_assert",  # the prompt's tiny assert failed on the extracted code
    "numeric_mismatch",
    "reference_mismatch",
    "refusal",
    "request_error",
)


@dataclass(frozen=True)
class Flag:
    kind: str  # one of FLAG_KINDS
    evidence: str  # one line a person can check: the repeated n-gram, the number found, ...


@dataclass(frozen=True)
class Tag:
    """The operator's judgement of one output. The journal keeps every tag; the last one wins."""

    prompt_id: str
    variant: str
    verdict: str  # one of VERDICTS
    symptom: str = ""
    notes: str = ""
    at: str = ""  # UTC ISO-8601 time the tag was made

    @property
    def is_issue(self) -> bool:
        return self.verdict != "ok"


@dataclass(frozen=True)
class TriageOutput:
    """What one variant answered to one prompt (greedy), with the automatic flags on it."""

    prompt_id: str
    variant: str
    text: str
    finish_reason: str | None = None
    output_tokens: int | None = None
    error: str = ""  # non-empty when the request failed: "<error class>: <detail>"
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class Divergence:
    """How far one variant's next-token distribution is from the reference variant's, along the
    reference's own greedy continuation (teacher-forced), from top-k logprobs."""

    prompt_id: str
    variant: str
    reference: str
    positions: int  # continuation tokens compared
    mean_kl: float | None  # mean KL(reference || variant), nats, top-k approximation
    top1_agreement: float | None  # share of positions where the variant's argmax is the reference's token
    detail: str = ""  # why a value is missing
