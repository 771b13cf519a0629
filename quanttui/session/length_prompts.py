"""Prompts of an exact length in the model's own tokens for prompt-length steps (issue 19).

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


def _head(number: int) -> str:
    return f"Document {number:05d}."


def length_prompts(
    endpoints: Sequence[EndpointInfo], api_key: str | None, timeouts: Timeouts, max_tokens: int
) -> Callable[[int, int], Awaitable[list[Prompt]]]:
    """`make(tokens, n)`: n distinct prompts of exactly `tokens` tokens each, or EndpointError with
    one line (no /tokenize, a length the context window cannot hold with the answer, or a count
    that cannot be hit exactly)."""
    made: dict[int, list[Prompt]] = {}

    async def make(tokens: int, n: int) -> list[Prompt]:
        have = made.get(tokens, [])
        if len(have) >= n:
            return have[:n]
        info = endpoints[0]
        client = TriageClient(info.url, info.model, api_key, timeouts)
        try:
            window = await client.max_model_len()
            if window is not None and tokens + max_tokens > window:
                raise EndpointError(
                    f"{info.variant}: a {tokens}-token prompt and {max_tokens} answer tokens exceed the "
                    f"model's context window ({window}): give shorter --input-lengths or fewer --max-tokens"
                )
            have = have + await _more(client, tokens, len(have), n)
        except EndpointError as exc:
            if str(exc).startswith(f"{info.variant}:"):
                raise
            raise EndpointError(f"{info.variant}: {exc}") from None
        except TriageRequestError as exc:
            raise EndpointError(f"{info.variant}: prompts of {tokens} tokens need /tokenize: {exc}") from None
        finally:
            await client.aclose()
        made[tokens] = have
        return have[:n]

    return make


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
