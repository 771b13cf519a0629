"""Which recorded answers a variant's own answers replace (issue 19, `--history own`), on the
conversation shapes the prompt files accept."""

from __future__ import annotations

import asyncio

from quanttui.core.prompts import Prompt
from quanttui.session.own_history import OwnHistory


def turn(conversation: str, number: int, *messages: tuple[str, str]) -> Prompt:
    return Prompt(f"{conversation}#{number}", tuple(messages))


def test_own_answers_replace_the_answer_to_each_earlier_turn_whatever_the_shape():
    async def main() -> list[dict[str, str]]:
        history = OwnHistory()
        # A greeting before the first question stays as recorded; each turn's answer is the first
        # assistant message after its question.
        first = turn("c", 1, ("assistant", "Hi! How can I help?"), ("user", "Q1"))
        second = turn("c", 2, ("assistant", "Hi! How can I help?"), ("user", "Q1"), ("assistant", "A1"),
                      ("assistant", "A1 again"), ("user", "Q2"))  # fmt: skip
        one = history.begin("awq", first)
        two = history.begin("awq", second)
        assert not one.earlier and two.waits  # turn 2 waits for the variant's answer to turn 1
        assert await history.messages("awq", one) == first.as_messages()
        one.finish("own A1")
        messages = await history.messages("awq", two)
        assert history.own == {"awq": 1} and history.recorded == {}
        return messages

    assert [m["content"] for m in asyncio.run(main())] == [
        "Hi! How can I help?",
        "Q1",
        "own A1",
        "A1 again",
        "Q2",
    ]


def test_a_failed_or_cancelled_earlier_turn_leaves_the_recorded_answer_and_is_counted():
    async def main() -> tuple[list[dict[str, str]], OwnHistory]:
        history = OwnHistory()
        one = history.begin("bf16", turn("c", 1, ("user", "Q1")))
        two = history.begin("bf16", turn("c", 2, ("user", "Q1"), ("assistant", "A1"), ("user", "Q2")))
        waiting = asyncio.ensure_future(history.messages("bf16", two))
        await asyncio.sleep(0)
        assert not waiting.done()  # no answer yet: it waits, never uses a half-made history
        one.finish(None)  # the request failed
        return await waiting, history

    messages, history = asyncio.run(main())
    assert [m["content"] for m in messages] == ["Q1", "A1", "Q2"] and history.stood_in("bf16") == 1
