"""Quality triage inside a session: the runner on the session's endpoints, and the tag journal.

A live session runs a triage instead of a ramp (`quanttui triage`), or beside it when the
operator asks from the console's Compare screen. Tags go to an append-only journal (fsynced
before the call returns) and onto the stream, so the recording shows them too; a session that
reopens the same output folder (or recording) reloads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from quanttui.core.clock import SessionClock
from quanttui.core.events import EndpointInfo, Event
from quanttui.core.quality_set import QualitySet
from quanttui.core.triage import VERDICTS, Tag
from quanttui.core.triage_events import TriageTagged
from quanttui.io.openai_client import Timeouts
from quanttui.io.tag_journal import TagJournal, load_journal
from quanttui.io.triage_runner import DEFAULT_TOP_LOGPROBS, TriagePlan, TriageRunner, TriageTarget


@dataclass(frozen=True)
class TriageSpec:
    quality_set: QualitySet
    reference: str | None = None  # default: the variant whose precision or name says bf16, else the first
    seed: int = 1234
    top_logprobs: int = DEFAULT_TOP_LOGPROBS

    def header_config(self) -> dict[str, object]:
        return {
            "quality_set": self.quality_set.name,
            "quality_source": self.quality_set.source,
            "prompts": len(self.quality_set.prompts),
            "reference": self.reference,
            "seed": self.seed,
            "top_logprobs": self.top_logprobs,
        }


def pick_reference(infos: list[EndpointInfo], wanted: str | None) -> str:
    names = [i.variant for i in infos]
    if wanted:
        if wanted not in names:
            raise ValueError(f"--reference {wanted}: no such variant (have: {', '.join(names)})")
        return wanted
    for info in infos:
        if "bf16" in (info.precision or "").lower() or "bf16" in info.variant.lower():
            return info.variant
    return names[0]


class TriageTagging:
    """The journal and the publishing of tags; shared by live and replayed sessions."""

    def __init__(
        self, journal_path: Path, publish: Callable[[Event], None], clock: SessionClock | None
    ) -> None:
        self.journal_path = journal_path
        self.journal = TagJournal(journal_path)
        self._publish = publish
        self._clock = clock

    def loaded(self) -> dict[tuple[str, str], Tag]:
        """Tags from an earlier sitting (empty when there is no journal yet)."""
        if not self.journal_path.exists():
            return {}
        return dict(load_journal(self.journal_path).tags)

    def tag(self, prompt_id: str, variant: str, verdict: str, symptom: str = "", notes: str = "") -> Tag:
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        tag = Tag(
            prompt_id, variant, verdict, symptom, notes, datetime.now(UTC).isoformat(timespec="seconds")
        )
        self.journal.append(tag)  # durable before anyone hears of it
        t = self._clock.now() if self._clock is not None else 0.0
        self._publish(TriageTagged(t=t, prompt_id=prompt_id, variant=variant, verdict=verdict,
                                   symptom=symptom, notes=notes))  # fmt: skip
        return tag


class TriageDriver:
    """Starts at most one triage on the session's endpoints and lets the session wait for it."""

    def __init__(self, spec: TriageSpec, publish: Callable[[Event], None], clock: SessionClock) -> None:
        self.spec = spec
        self.publish = publish
        self.clock = clock
        self.runner: TriageRunner | None = None
        self.task: asyncio.Task[str] | None = None

    def start(self, infos: list[EndpointInfo], timeouts: Timeouts, api_key: str | None) -> None:
        if self.task is not None or not infos:
            return
        targets = tuple(TriageTarget(i.variant, i.url, i.model) for i in infos)
        plan = TriagePlan(
            quality_set=self.spec.quality_set,
            targets=targets,
            reference=pick_reference(infos, self.spec.reference),
            seed=self.spec.seed,
            top_logprobs=self.spec.top_logprobs,
            timeouts=Timeouts(connect_s=timeouts.connect_s, first_token_s=max(timeouts.first_token_s, 300.0),
                              idle_s=max(timeouts.idle_s, 120.0)),
            api_key=api_key,
        )  # fmt: skip
        self.runner = TriageRunner(plan, self.publish, self.clock)
        self.task = asyncio.create_task(self.runner.run(), name="quanttui-triage")

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    async def wait(self) -> str:
        """How the triage ended: "completed", "stopped", or "not_run"."""
        if self.task is None:
            return "not_run"
        (outcome,) = await asyncio.gather(self.task, return_exceptions=True)
        return outcome if isinstance(outcome, str) else "failed"
