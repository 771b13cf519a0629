"""Runs a quality triage: every prompt of a quality set on every variant, greedy, streamed.

Per prompt: long-context prompts are filled to the reference model's window, the prompt is
published (so a recording alone rebuilds the catalog), every variant answers at once (temperature
0, fixed seed; the reference with top-k logprobs and token ids), each answer gets its automatic
flags (a code prompt's tiny assert runs in a sandboxed subprocess), then each other variant scores
the reference's continuation teacher-forced and the divergence is published. Everything goes out
as events; nothing here renders or decides for the operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event
from quanttui.core.flags import extract_python_code, flag_output
from quanttui.core.logprob_compare import divergence_from_api
from quanttui.core.quality_set import QualityPrompt, QualitySet, expand_long_context
from quanttui.core.triage_events import (
    TriageAnswer,
    TriageDivergence,
    TriageFinished,
    TriagePrompt,
    TriageStarted,
)
from quanttui.io.code_check import run_python_assert
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions, StreamOutcome, Timeouts
from quanttui.io.triage_client import TriageClient, TriageRequestError

DEFAULT_TOP_LOGPROBS = 5


@dataclass(frozen=True)
class TriageTarget:
    name: str
    url: str  # API root, e.g. http://127.0.0.1:8000
    model: str  # served model name (already discovered)


@dataclass(frozen=True)
class TriagePlan:
    quality_set: QualitySet
    targets: tuple[TriageTarget, ...]
    reference: str  # name of the target the others are compared against
    seed: int = 1234
    top_logprobs: int = DEFAULT_TOP_LOGPROBS  # 0: no divergence measurement
    timeouts: Timeouts = Timeouts(first_token_s=300.0, idle_s=120.0)
    api_key: str | None = None


class TriageRunner:
    def __init__(self, plan: TriagePlan, publish: Callable[[Event], None], clock: SessionClock) -> None:
        if plan.reference not in {t.name for t in plan.targets}:
            raise ValueError(f"reference variant {plan.reference!r} is not among the variants")
        self.plan = plan
        self.publish = publish
        self.clock = clock
        self.done_prompts = 0
        self._stop = asyncio.Event()
        # variants whose engine cannot score (no vLLM /tokenize + prompt_logprobs), with the reason:
        # asked once, then every later prompt says so without another failing request
        self._unscorable: dict[str, str] = {}

    def stop(self) -> None:
        """Finish the prompt under way, then end (reason "stopped")."""
        self._stop.set()

    async def run(self) -> str:
        plan = self.plan
        streams = {
            t.name: OpenAIStreamClient(t.url, t.model, plan.api_key, 1, plan.timeouts) for t in plan.targets
        }
        side = {t.name: TriageClient(t.url, t.model, plan.api_key, plan.timeouts) for t in plan.targets}
        reason = "completed"
        try:
            self.publish(
                TriageStarted(
                    t=self.clock.now(),
                    quality_set=plan.quality_set.name,
                    prompts=len(plan.quality_set.prompts),
                    variants=tuple(t.name for t in plan.targets),
                    reference=plan.reference,
                    top_logprobs=plan.top_logprobs,
                    seed=plan.seed,
                )
            )
            window = await self._window(side[plan.reference])
            for prompt in plan.quality_set.prompts:
                if self._stop.is_set():
                    reason = "stopped"
                    break
                await self._one_prompt(prompt, window, streams, side)
                self.done_prompts += 1
        except asyncio.CancelledError:
            reason = "interrupted"
            raise
        finally:
            self.publish(TriageFinished(t=self.clock.now(), reason=reason))
            await asyncio.gather(
                *(c.aclose() for c in (*streams.values(), *side.values())), return_exceptions=True
            )
        return reason

    async def _window(self, client: TriageClient) -> int | None:
        try:
            return await client.max_model_len()
        except TriageRequestError:
            return None

    async def _one_prompt(
        self,
        prompt: QualityPrompt,
        window: int | None,
        streams: dict[str, OpenAIStreamClient],
        side: dict[str, TriageClient],
    ) -> None:
        plan = self.plan
        if prompt.fill_to is not None:
            prompt = expand_long_context(prompt, window or 2048)
        self.publish(
            TriagePrompt(
                t=self.clock.now(),
                prompt_id=prompt.id,
                category=prompt.category,
                messages=prompt.messages,
                reference_answer=prompt.reference,
                max_tokens=prompt.max_tokens,
            )
        )
        outcomes = await asyncio.gather(
            *(self._answer(prompt, name, client) for name, client in streams.items())
        )
        by_name = dict(zip(streams, outcomes, strict=True))
        for name, outcome in by_name.items():
            await self._publish_answer(prompt, name, outcome)
        if plan.top_logprobs <= 0:
            return
        reference = by_name[plan.reference]
        for target in plan.targets:
            if target.name != plan.reference:
                self.publish(await self._divergence(prompt, reference, target.name, side))

    async def _answer(self, prompt: QualityPrompt, name: str, client: OpenAIStreamClient) -> StreamOutcome:
        is_reference = name == self.plan.reference and self.plan.top_logprobs > 0
        options = RequestOptions(
            max_tokens=prompt.max_tokens,
            temperature=0.0,
            seed=self.plan.seed,
            top_logprobs=self.plan.top_logprobs if is_reference else None,
            token_ids_in_logprobs=is_reference,
        )
        return await client.stream_chat(prompt.as_messages(), options)

    async def _publish_answer(self, prompt: QualityPrompt, name: str, outcome: StreamOutcome) -> None:
        error = "" if outcome.ok else f"{outcome.error}: {outcome.error_detail}"
        flags = list(flag_output(prompt, outcome.text, outcome.finish_reason, error))
        if outcome.ok and prompt.python_assert:
            code = extract_python_code(outcome.text)
            if code.code is not None:
                failed = await asyncio.to_thread(run_python_assert, code.code, prompt.python_assert)
                if failed is not None:
                    flags.append(failed)
        self.publish(
            TriageAnswer(
                t=self.clock.now(),
                prompt_id=prompt.id,
                variant=name,
                text=outcome.text,
                finish_reason=outcome.finish_reason,
                output_tokens=outcome.output_tokens,
                error=error,
                flags=tuple(flags),
                ttft=outcome.ttft_s,
                e2e=outcome.e2e_s,
            )
        )

    async def _divergence(
        self, prompt: QualityPrompt, reference: StreamOutcome, variant: str, side: dict[str, TriageClient]
    ) -> TriageDivergence:
        plan = self.plan

        def missing(detail: str) -> TriageDivergence:
            return TriageDivergence(
                t=self.clock.now(), prompt_id=prompt.id, variant=variant, reference=plan.reference,
                positions=0, mean_kl=None, top1_agreement=None, detail=detail,
            )  # fmt: skip

        if not reference.ok:
            return missing("the reference answer failed")
        if not reference.logprobs:
            return missing("the reference sent no logprobs")
        if variant in self._unscorable:
            return missing(self._unscorable[variant])
        try:
            prompt_ids = await side[plan.reference].tokenize_chat(prompt.as_messages())
            result = divergence_from_api(
                prompt.id, variant, plan.reference, reference.logprobs, len(prompt_ids),
                scored=await side[variant].score(
                    prompt_ids + continuation_ids(reference.logprobs), plan.top_logprobs
                ),
            )  # fmt: skip
        except TriageRequestError as exc:
            if await side[variant].speaks_vllm():
                return missing(str(exc))
            self._unscorable[variant] = (
                f"not measured: {variant}'s engine has no vLLM /tokenize, so no prompt_logprobs scoring "
                f"(vLLM extensions); its reply: {str(exc)[:160]}"
            )
            return missing(self._unscorable[variant])
        except ValueError as exc:
            return missing(str(exc))
        return TriageDivergence(
            t=self.clock.now(),
            prompt_id=prompt.id,
            variant=variant,
            reference=plan.reference,
            positions=result.positions,
            mean_kl=result.mean_kl,
            top1_agreement=result.top1_agreement,
            detail=result.detail,
        )


def continuation_ids(entries: list[object]) -> list[int]:
    """The reference's greedy tokens from its stream's logprobs entries ("token_id:123")."""
    from quanttui.core.logprob_compare import parse_token_id

    ids = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError("logprobs.content entry is not an object")
        ids.append(parse_token_id(entry.get("token")))
    return ids
