"""A prompt of an exact length in the model's own tokens, chat template included (issues 18, 19).

The engine counts (vLLM's /tokenize with the messages, as it will template them); this only
chooses words. Filler text (plain words, no markup) goes before the question; a binary search finds
the most filler words that fit, then single-token padding (" a") makes up the rest. Deterministic:
the same engine and length give the same prompt, so every variant gets the same text (and the same
count when they share a tokenizer, as a model and its quantized copies do).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

FILLER = [
    "The",
    "ocean",
    "covers",
    "most",
    "of",
    "the",
    "planet",
    "and",
    "its",
    "currents",
    "carry",
    "heat",
    "from",
    "the",
    "warm",
    "equator",
    "toward",
    "the",
    "cold",
    "poles,",
    "shaping",
    "the",
    "weather",
    "of",
    "every",
    "coast",
    "they",
    "pass.",
    "Deep",
    "water",
    "moves",
    "slowly,",
    "taking",
    "centuries",
    "to",
    "circle",
    "the",
    "globe,",
    "while",
    "the",
    "surface",
    "answers",
    "the",
    "wind",
    "within",
    "hours.",
    "Fishermen,",
    "sailors",
    "and",
    "scientists",
    "have",
    "long",
    "read",
    "these",
    "patterns",
    "to",
    "find",
    "food,",
    "to",
    "travel",
    "and",
    "to",
    "understand",
    "how",
    "the",
    "climate",
    "changes",
    "from",
    "one",
    "decade",
    "to",
    "the",
    "next.",
]
PAD = " a"


class PromptLengthError(ValueError):
    """The length cannot be reached: one line saying why."""


async def prompt_of_tokens(
    count: Callable[[str], Awaitable[int]],
    tokens: int,
    question: str,
    max_words: int = 200_000,
    head: str = "",
) -> tuple[str, int]:
    """(prompt, its templated token count): `head`, filler words, then `question`, counting exactly
    `tokens` when padding can reach it (else the closest count below, said by the second value)."""

    def text(words: int, pads: int = 0) -> str:
        filler = " ".join(FILLER[i % len(FILLER)] for i in range(words))
        body = f"{filler}{PAD * pads}\n\n{question}" if words or pads else question
        return f"{head} {body}" if head else body

    bare = await count(text(0))
    if bare > tokens:
        raise PromptLengthError(f"the question alone is {bare} tokens, more than the {tokens} asked for")
    low, high = 0, 1
    while await count(text(high)) <= tokens:  # grow until one size is over
        low, high = high, high * 2
        if high > max_words:
            raise PromptLengthError(f"{tokens} tokens need more than {max_words:,} filler words")
    while high - low > 1:  # the most words whose count is still <= tokens
        middle = (low + high) // 2
        if await count(text(middle)) <= tokens:
            low = middle
        else:
            high = middle
    best, best_count = text(low), await count(text(low))
    pads = 0
    while best_count < tokens:
        pads += 1
        trial = text(low, pads)
        got = await count(trial)
        if got > tokens or got <= best_count and pads > 8:
            break  # padding merged or overshot: the closest count below stands
        if got > best_count:
            best, best_count = trial, got
    return best, best_count
