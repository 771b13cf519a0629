"""What the Compare screen shows, folded from triage events (live or replayed) and the tag journal.

Pure state: prompts in the order they were sent, each with every variant's answer, its flags, the
divergence from the reference, and the operator's tags; filters ("only different", "only
flagged", "untagged") and the current position. The screen renders it; the catalog export reads
it through `outputs()`, `tags` and `divergences()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quanttui.core.events import Event, ReplayReset
from quanttui.core.triage import Divergence, Tag, TriageOutput
from quanttui.core.triage_events import (
    TriageAnswer,
    TriageDivergence,
    TriageFinished,
    TriagePrompt,
    TriageStarted,
    TriageTagged,
)

FILTERS: tuple[str, ...] = ("all", "different", "flagged", "untagged")


@dataclass
class PromptRow:
    prompt: TriagePrompt
    answers: dict[str, TriageAnswer] = field(default_factory=dict)
    divergences: dict[str, TriageDivergence] = field(default_factory=dict)

    @property
    def prompt_text(self) -> str:
        """The user's part of the prompt (the last user message), as sent."""
        users = [content for role, content in self.prompt.messages if role == "user"]
        return users[-1] if users else (self.prompt.messages[-1][1] if self.prompt.messages else "")


class TriageState:
    def __init__(self) -> None:
        self.started: TriageStarted | None = None
        self.finished: TriageFinished | None = None
        self.rows: dict[str, PromptRow] = {}
        self.tags: dict[tuple[str, str], Tag] = {}
        self.filter = "all"
        self.position = 0  # index into visible()
        self.version = 0

    # -- folding -------------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        match event:
            case TriageStarted():
                self.started, self.finished = event, None
            case TriagePrompt():
                self.rows[event.prompt_id] = PromptRow(event)
            case TriageAnswer():
                row = self.rows.get(event.prompt_id)
                if row is not None:
                    row.answers[event.variant] = event
            case TriageDivergence():
                row = self.rows.get(event.prompt_id)
                if row is not None:
                    row.divergences[event.variant] = event
            case TriageTagged():
                self.tags[(event.prompt_id, event.variant)] = Tag(
                    event.prompt_id, event.variant, event.verdict, event.symptom, event.notes
                )
            case TriageFinished():
                self.finished = event
            case ReplayReset():
                self.__init__()  # type: ignore[misc]
            case _:
                return
        self.version += 1

    def load_tags(self, tags: dict[tuple[str, str], Tag]) -> None:
        """Tags from the journal of an earlier sitting: the operator's work is never lost."""
        self.tags.update(tags)
        self.version += 1

    # -- reading -------------------------------------------------------------------------------
    @property
    def variants(self) -> tuple[str, ...]:
        if self.started is not None:
            return self.started.variants
        seen: dict[str, None] = {}
        for row in self.rows.values():
            seen.update(dict.fromkeys(row.answers))
        return tuple(seen)

    @property
    def reference(self) -> str | None:
        if self.started is not None:
            return self.started.reference
        return self.variants[0] if self.variants else None

    def differs(self, row: PromptRow) -> bool:
        texts = {" ".join(a.text.split()) for a in row.answers.values()}
        return len(texts) > 1

    def flagged(self, row: PromptRow) -> bool:
        return any(a.flags for a in row.answers.values())

    def untagged(self, row: PromptRow) -> bool:
        return any((row.prompt.prompt_id, v) not in self.tags for v in row.answers)

    def visible(self) -> list[PromptRow]:
        rows = list(self.rows.values())
        if self.filter == "different":
            return [r for r in rows if self.differs(r)]
        if self.filter == "flagged":
            return [r for r in rows if self.flagged(r)]
        if self.filter == "untagged":
            return [r for r in rows if self.untagged(r)]
        return rows

    def current(self) -> PromptRow | None:
        rows = self.visible()
        if not rows:
            return None
        self.position = max(0, min(self.position, len(rows) - 1))
        return rows[self.position]

    def move(self, delta: int) -> None:
        count = len(self.visible())
        if count:
            self.position = max(0, min(count - 1, self.position + delta))
            self.version += 1

    def set_filter(self, name: str) -> None:
        """Switch filter and stay on the same prompt when it is still shown."""
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}")
        current = self.current()
        self.filter = name
        ids = [r.prompt.prompt_id for r in self.visible()]
        self.position = (
            ids.index(current.prompt.prompt_id) if current and current.prompt.prompt_id in ids else 0
        )
        self.version += 1

    def counts(self) -> dict[str, int]:
        rows = list(self.rows.values())
        return {
            "prompts": len(rows),
            "answered": sum(1 for r in rows if len(r.answers) == len(self.variants) and self.variants),
            "different": sum(1 for r in rows if self.differs(r)),
            "flagged": sum(1 for r in rows if self.flagged(r)),
            "untagged": sum(1 for r in rows if self.untagged(r)),
        }

    # -- for the exports -----------------------------------------------------------------------
    def outputs(self) -> list[TriageOutput]:
        return [
            TriageOutput(
                prompt_id=a.prompt_id,
                variant=a.variant,
                text=a.text,
                finish_reason=a.finish_reason,
                output_tokens=a.output_tokens,
                error=a.error,
                flags=a.flags,
            )  # fmt: skip
            for row in self.rows.values()
            for a in row.answers.values()
        ]

    def divergences(self) -> list[Divergence]:
        return [
            Divergence(
                d.prompt_id, d.variant, d.reference, d.positions, d.mean_kl, d.top1_agreement, d.detail
            )
            for row in self.rows.values()
            for d in row.divergences.values()
        ]
