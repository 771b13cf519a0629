"""The quality triage on the event stream (issue 6): the run's start and end, each prompt as sent,
each variant's answer with its flags, the divergence measurements and the operator's tags, so a
recording alone rebuilds the catalog. `core/triage_state.py` folds them."""

from __future__ import annotations

from dataclasses import dataclass

from quanttui.core.events import Event
from quanttui.core.triage import Flag


@dataclass(frozen=True)
class TriageStarted(Event):
    """A quality triage begins: every prompt of `quality_set` on every variant, greedy."""

    quality_set: str
    prompts: int
    variants: tuple[str, ...]
    reference: str  # the variant the others are compared against (BF16)
    top_logprobs: int  # k of the divergence measurement; 0 when it is off
    seed: int = 0


@dataclass(frozen=True)
class TriagePrompt(Event):
    """A prompt as sent (long-context ones already filled), so a recording alone rebuilds a catalog."""

    prompt_id: str
    category: str
    messages: tuple[tuple[str, str], ...]
    reference_answer: str | None = None
    max_tokens: int = 0


@dataclass(frozen=True)
class TriageAnswer(Event):
    """One variant's greedy answer to one prompt, with the automatic flags on it."""

    prompt_id: str
    variant: str
    text: str
    finish_reason: str | None = None
    output_tokens: int | None = None
    error: str = ""
    flags: tuple[Flag, ...] = ()
    ttft: float | None = None
    e2e: float | None = None


@dataclass(frozen=True)
class TriageDivergence(Event):
    """Top-k KL and top-1 agreement of `variant` against `reference` along the reference's answer."""

    prompt_id: str
    variant: str
    reference: str
    positions: int
    mean_kl: float | None
    top1_agreement: float | None
    detail: str = ""


@dataclass(frozen=True)
class TriageTagged(Event):
    """The operator tagged an output (also journaled to disk the moment it was made)."""

    prompt_id: str
    variant: str
    verdict: str
    symptom: str = ""
    notes: str = ""


@dataclass(frozen=True)
class TriageFinished(Event):
    reason: str  # "completed", "stopped", "interrupted"


TRIAGE_EVENT_TYPES: tuple[type[Event], ...] = (
    TriageStarted,
    TriagePrompt,
    TriageAnswer,
    TriageDivergence,
    TriageTagged,
    TriageFinished,
)
TRIAGE_VALUE_TYPES: tuple[type, ...] = (Flag,)
