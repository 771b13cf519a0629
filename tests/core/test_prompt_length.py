"""Prompts of an exact token length, with counters that behave as tokenizers do: a template adds
a fixed number of tokens, words may take more than one token, padding may merge."""

import pytest

from quanttui.core.prompt_length import PromptLengthError, prompt_of_tokens


def counter(template: int = 7, long_words: bool = False):
    """Template overhead plus one token per word, two per word of 8+ letters when `long_words`."""

    async def count(text: str) -> int:
        words = text.split()
        return template + sum(2 if long_words and len(w) >= 8 else 1 for w in words)

    return count


@pytest.mark.parametrize("tokens", [12, 64, 100, 512, 3000])
@pytest.mark.parametrize("long_words", [False, True])
async def test_the_count_is_exact(tokens, long_words):
    count = counter(long_words=long_words)
    prompt, got = await prompt_of_tokens(count, tokens, "Why is the sea salty?")
    assert got == tokens == await count(prompt)
    assert prompt.endswith("Why is the sea salty?")


async def test_the_same_length_gives_the_same_prompt():
    a = await prompt_of_tokens(counter(), 300, "q?")
    assert a == await prompt_of_tokens(counter(), 300, "q?")


async def test_a_question_longer_than_the_length_is_said():
    with pytest.raises(PromptLengthError, match="the question alone is 12 tokens, more than the 10"):
        await prompt_of_tokens(counter(), 10, "one two three four five")


async def test_padding_that_cannot_reach_the_length_gives_the_closest_below():
    async def coarse(text: str) -> int:  # every piece costs 3 tokens: only multiples of 3 are reachable
        return 3 * len(text.split())

    prompt, got = await prompt_of_tokens(coarse, 100, "q?")
    assert got == 99 and await coarse(prompt) == 99
