"""Prompts of an exact length in the model's own tokens: prompt-length steps and the shared-prefix
workload (issue 19).

The engine counts: vLLM's /tokenize with the chat template applied, as it will template the
request, on the first variant that has it (a model and its quantized copies share a tokenizer;
the recorded usage of every request says what each engine counted). Where none has it (llama.cpp's
server), or the operator names them (`--tokenizer DIR`), the model's tokenizer files count
(io/tokenizer_files.py): a launched variant's model folder when it holds them. Each prompt opens
with its own number right after the chat template's fixed opening, so vLLM's prefix cache can
serve no more than that opening from an earlier request: what a step measures is prefill. The
first prompt of a length is found by search (core/prompt_length.py); the others differ only in
their number and are counted once each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from quanttui.core.events import EndpointInfo
from quanttui.core.prompt_length import PromptLengthError, prompt_of_tokens
from quanttui.core.prompts import Prompt
from quanttui.io.openai_client import EndpointError, Timeouts
from quanttui.io.tokenizer_files import TokenizerFiles, TokenizerFilesError, has_tokenizer_files
from quanttui.io.triage_client import TriageClient, TriageRequestError

QUESTION = "Summarize the text above in one sentence."
SHARED_INSTRUCTION = "Use the text above when it helps to answer the user."


def _head(number: int) -> str:
    return f"Document {number:05d}."


ChatCounter = Callable[[list[dict[str, str]]], Awaitable[int]]


@dataclass
class _Counter:
    """What counts a chat prompt's tokens, and the context window it must fit in (if known)."""

    name: str  # says in an error which tokenizer counted
    count: ChatCounter
    window: int | None
    said: str  # in a note: "bf16's /tokenize", "the tokenizer files in DIR"


class WorkloadPrompts:
    """The prompts a workload makes with the model's tokenizer: `tokenizer` (a folder of tokenizer
    files the operator named), else vLLM's /tokenize on the first variant that has it, else the
    tokenizer files in a variant's model folder; every failure is an EndpointError with one line
    naming it."""

    def __init__(
        self,
        endpoints: Sequence[EndpointInfo],
        api_key: str | None,
        timeouts: Timeouts,
        max_tokens: int,
        tokenizer: Path | None = None,
        model_dirs: Sequence[Path] = (),
    ) -> None:
        self.endpoints = list(endpoints)
        self.api_key, self.timeouts, self.max_tokens = api_key, timeouts, max_tokens
        self.tokenizer = tokenizer
        self.model_dirs = list(model_dirs)  # launched variants' model folders (a GGUF's is a file)
        self._files_loaded: dict[Path, TokenizerFiles] = {}  # read once a session
        self._counting: EndpointInfo | None = None  # the variant whose /tokenize counts, once found
        self.counted_by = ""  # which tokenizer counted, once one did ("bf16's /tokenize")
        self._made: dict[int, list[Prompt]] = {}

    async def _with_counter(
        self, tokens: int, work: Callable[[ChatCounter], Awaitable[list[Prompt]]]
    ) -> list[Prompt]:
        clients: list[TriageClient] = []
        try:
            counter = await self._counter(clients)
            self.counted_by = counter.said
            if counter.window is not None and tokens + self.max_tokens > counter.window:
                raise EndpointError(
                    f"{counter.name}: a {tokens}-token prompt and {self.max_tokens} answer tokens exceed the "
                    f"model's context window ({counter.window}): give shorter prompts or fewer --max-tokens"
                )
            try:
                return await work(counter.count)
            except EndpointError as exc:
                if str(exc).startswith(f"{counter.name}:"):
                    raise
                raise EndpointError(f"{counter.name}: {exc}") from None
            except TriageRequestError as exc:
                raise EndpointError(
                    f"{counter.name}: prompts of {tokens} tokens need /tokenize: {exc}"
                ) from None
            except TokenizerFilesError as exc:
                raise EndpointError(str(exc)) from None
        finally:
            for client in clients:
                await client.aclose()

    async def _counter(self, clients: list[TriageClient]) -> _Counter:
        if self.tokenizer is not None:
            return await self._files(self.tokenizer, clients)
        known = [self._counting] if self._counting is not None else self.endpoints
        for info in known:
            client = TriageClient(info.url, info.model, self.api_key, self.timeouts)
            clients.append(client)
            if info is self._counting or await client.speaks_vllm():
                self._counting = info

                async def count(messages: list[dict[str, str]], client: TriageClient = client) -> int:
                    return len(await client.tokenize_chat(messages))

                try:
                    window = await client.max_model_len()
                except TriageRequestError as exc:
                    raise EndpointError(f"{info.variant}: {exc}") from None
                return _Counter(
                    info.variant, count, window, f"{info.variant}'s /tokenize (vLLM, chat template applied)"
                )
        for folder in self.model_dirs:
            if has_tokenizer_files(folder):
                return await self._files(folder, clients)
        names = ", ".join(i.variant for i in self.endpoints)
        raise EndpointError(
            f"{names}: no variant answers vLLM's /tokenize, which exact prompt lengths are counted with: "
            "name the model's tokenizer files with --tokenizer DIR"
        )

    async def _files(self, folder: Path, clients: list[TriageClient]) -> _Counter:
        files = self._files_loaded.get(folder)
        if files is None:
            try:
                files = self._files_loaded[folder] = TokenizerFiles.load(folder)
            except TokenizerFilesError as exc:
                raise EndpointError(str(exc)) from None

        async def count(messages: list[dict[str, str]]) -> int:
            return files.count_chat(messages)

        window = None
        for info in self.endpoints:  # the served window, where an engine states it
            client = TriageClient(info.url, info.model, self.api_key, self.timeouts)
            clients.append(client)
            try:
                window = await client.max_model_len()
            except TriageRequestError:
                window = None
            if window is not None:
                break
        where = f"the tokenizer files in {files.folder}"
        return _Counter(where, count, window, where)

    async def of_length(self, tokens: int, n: int) -> list[Prompt]:
        """n distinct prompts of exactly `tokens` tokens each (a prompt-length step's)."""
        have = self._made.get(tokens, [])
        if len(have) < n:
            start = len(have)
            have = have + await self._with_counter(tokens, lambda c: _more(c, tokens, start, n))
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

        async def make(count_chat: ChatCounter) -> list[Prompt]:
            async def count(text: str) -> int:
                return await count_chat([{"role": "system", "content": text}])

            try:
                shared, got = await prompt_of_tokens(count, tokens, SHARED_INSTRUCTION)
            except PromptLengthError as exc:
                raise EndpointError(f"a shared prefix of {tokens} tokens: {exc}") from None
            if got != tokens:
                raise EndpointError(
                    f"a shared prefix of exactly {tokens} tokens cannot be made ({got} is the closest)"
                )
            return [Prompt(f"prefix-{p.id}", (("system", shared), *p.messages)) for p in prompts]

        return await self._with_counter(tokens, make)


async def _more(count_chat: ChatCounter, tokens: int, start: int, stop: int) -> list[Prompt]:
    async def count(text: str) -> int:
        return await count_chat([{"role": "user", "content": text}])

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
