"""Prompts of an exact length in the model's own tokens: prompt-length steps and the shared-prefix
workload (issue 19).

The engine counts: vLLM's /tokenize with the chat template applied, as it will template the
request, on the first variant that has it (a model and its quantized copies share a tokenizer;
the recorded usage of every request says what each engine counted). Each prompt opens with its
own number right after the chat template's fixed opening, so vLLM's prefix cache can serve no
more than that opening from an earlier request: what a step measures is prefill. The first prompt of a length is found by search
(core/prompt_length.py); the others differ only in their number and are counted once each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from quanttui.core.events import EndpointInfo
from quanttui.core.prompt_length import PromptLengthError, prompt_of_tokens
from quanttui.core.prompts import Prompt
from quanttui.io.openai_client import EndpointError, Timeouts
from quanttui.io.triage_client import TriageClient, TriageRequestError

QUESTION = "Summarize the text above in one sentence."
SHARED_INSTRUCTION = "Use the text above when it helps to answer the user."


def _head(number: int) -> str:
    return f"Document {number:05d}."


class WorkloadPrompts:
    """The prompts a workload makes with the engine's tokenizer, on the first variant that has
    vLLM's /tokenize (a model and its quantized copies share one; a llama.cpp variant has none);
    every failure is an EndpointError with one line naming it."""

    def __init__(
        self, endpoints: Sequence[EndpointInfo], api_key: str | None, timeouts: Timeouts, max_tokens: int
    ) -> None:
        self.endpoints = list(endpoints)
        self.info: EndpointInfo | None = None  # the variant that counts, once one answered
        self.api_key, self.timeouts, self.max_tokens = api_key, timeouts, max_tokens
        self._made: dict[int, list[Prompt]] = {}

    async def _with_client(
        self, tokens: int, work: Callable[[TriageClient], Awaitable[list[Prompt]]]
    ) -> list[Prompt]:
        info = self.info or await self._counter()
        client = TriageClient(info.url, info.model, self.api_key, self.timeouts)
        try:
            window = await client.max_model_len()
            if window is not None and tokens + self.max_tokens > window:
                raise EndpointError(
                    f"{info.variant}: a {tokens}-token prompt and {self.max_tokens} answer tokens exceed the "
                    f"model's context window ({window}): give shorter prompts or fewer --max-tokens"
                )
            return await work(client)
        except EndpointError as exc:
            if str(exc).startswith(f"{info.variant}:"):
                raise
            raise EndpointError(f"{info.variant}: {exc}") from None
        except TriageRequestError as exc:
            raise EndpointError(f"{info.variant}: prompts of {tokens} tokens need /tokenize: {exc}") from None
        finally:
            await client.aclose()

    async def _counter(self) -> EndpointInfo:
        for info in self.endpoints:
            client = TriageClient(info.url, info.model, self.api_key, self.timeouts)
            try:
                if await client.speaks_vllm():
                    self.info = info
                    return info
            finally:
                await client.aclose()
        names = ", ".join(i.variant for i in self.endpoints)
        raise EndpointError(
            f"{names}: no variant answers vLLM's /tokenize, which exact prompt lengths are counted with"
        )

    async def of_length(self, tokens: int, n: int) -> list[Prompt]:
        """n distinct prompts of exactly `tokens` tokens each (a prompt-length step's)."""
        have = self._made.get(tokens, [])
        if len(have) < n:
            start = len(have)
            have = have + await self._with_client(tokens, lambda c: _more(c, tokens, start, n))
            self._made[tokens] = have
        return have[:n]

    async def of_lengths(self, lengths: Sequence[int]) -> list[Prompt]:
        """One prompt per length, in order, each exactly that long and distinct from the others
        (synthetic prompts whose lengths follow a distribution)."""
        wanted: dict[int, int] = {}
        for n in lengths:
            wanted[n] = wanted.get(n, 0) + 1
        made = {n: list(await self.of_length(n, count)) for n, count in sorted(wanted.items())}
        return [made[n].pop(0) for n in lengths]

    async def with_prefix(self, tokens: int, prompts: Sequence[Prompt]) -> list[Prompt]:
        """`prompts`, each after one shared system prompt of exactly `tokens` tokens (templated on
        its own): the shared-prefix workload, whose prefix vLLM's prefix cache can serve."""

        async def make(client: TriageClient) -> list[Prompt]:
            async def count(text: str) -> int:
                return len(await client.tokenize_chat([{"role": "system", "content": text}]))

            try:
                shared, got = await prompt_of_tokens(count, tokens, SHARED_INSTRUCTION)
            except PromptLengthError as exc:
                raise EndpointError(f"a shared prefix of {tokens} tokens: {exc}") from None
            if got != tokens:
                raise EndpointError(
                    f"a shared prefix of exactly {tokens} tokens cannot be made ({got} is the closest)"
                )
            return [Prompt(f"prefix-{p.id}", (("system", shared), *p.messages)) for p in prompts]

        return await self._with_client(tokens, make)


async def _more(client: TriageClient, tokens: int, start: int, stop: int) -> list[Prompt]:
    async def count(text: str) -> int:
        return len(await client.tokenize_chat([{"role": "user", "content": text}]))

    try:
        first, got = await prompt_of_tokens(count, tokens, QUESTION, head=_head(start))
    except PromptLengthError as exc:
        raise EndpointError(f"a prompt of {tokens} tokens: {exc}") from None
    if got != tokens:
        raise EndpointError(f"a prompt of exactly {tokens} tokens cannot be made ({got} is the closest)")
    body = first.removeprefix(_head(start))  # " filler...question", after the number
    out = [Prompt.user(f"len{tokens}-{start:05d}", first)]
    for number in range(start + 1, stop):
        text = _head(number) + body
        if await count(text) != tokens:  # a number that tokenizes differently: search for it alone
            text, got = await prompt_of_tokens(count, tokens, QUESTION, head=_head(number))
            if got != tokens:
                raise EndpointError(
                    f"a prompt of exactly {tokens} tokens cannot be made ({got} is the closest)"
                )
        out.append(Prompt.user(f"len{tokens}-{number:05d}", text))
    return out
