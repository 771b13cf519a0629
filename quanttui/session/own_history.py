"""Multi-turn with each variant's own answers (issue 19, `--history own`).

A replayed conversation's turn k carries the earlier turns. By default they hold the recorded
answers, so every variant gets identical requests. With own history each variant's turn k carries
its own answers to turns 1..k-1 instead, as a user of that variant would see them: the load then
differs between variants, and the report says so. A turn waits for its variant's answer to the
turn before (a user cannot ask the next question sooner); an earlier turn that failed, or was
never sent, leaves its recorded answer in place, and those turns are counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from quanttui.core.clock import SessionClock
from quanttui.core.prompts import Prompt
from quanttui.io.openai_client import RequestOptions
from quanttui.io.prompt_file import CONVERSATION_TURN
from quanttui.io.stream_outcome import StreamOutcome
from quanttui.session.load_target import Target


def conversation_turn(prompt: Prompt) -> tuple[str, int] | None:
    """(conversation, turn number from 1) of a replayed conversation's turn, else None."""
    match = CONVERSATION_TURN.search(prompt.id)
    if match is None:
        return None
    return prompt.id[: match.start()], int(match[0][1:])


@dataclass
class Turn:
    """One request of a conversation for one variant: the answers it waits for, and its own."""

    prompt: Prompt
    earlier: list[asyncio.Future[str | None] | None]  # this variant's answers to turns 1..k-1
    answer: asyncio.Future[str | None] | None  # None: not a conversation's turn

    @property
    def waits(self) -> bool:
        """An answer it needs was not in when it was due."""
        return any(f is not None and not f.done() for f in self.earlier)

    def finish(self, text: str | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(text)


@dataclass
class OwnHistory:
    """Each variant's latest answer to every turn of every conversation, as futures: a turn sent
    before the answer it needs is in waits for it."""

    _latest: dict[tuple[str, str, int], asyncio.Future[str | None]] = field(default_factory=dict)
    own: dict[str, int] = field(default_factory=dict)  # turns sent with the variant's own history
    recorded: dict[str, int] = field(default_factory=dict)  # turns where a recorded answer stood in

    def begin(self, variant: str, prompt: Prompt) -> Turn:
        """Called when the request is due, before any wait, so turns begin in their send order."""
        place = conversation_turn(prompt)
        if place is None:
            return Turn(prompt, [], None)
        conversation, number = place
        earlier = [self._latest.get((variant, conversation, j)) for j in range(1, number)]
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._latest[(variant, conversation, number)] = answer
        return Turn(prompt, earlier, answer)

    async def messages(self, variant: str, turn: Turn) -> list[dict[str, str]]:
        """The turn's messages with this variant's answers as the earlier assistant turns."""
        messages = turn.prompt.as_messages()
        if turn.answer is None:
            return messages
        answered = _answer_positions(messages)
        if not answered:  # a conversation's first turn: no history
            return messages
        answers = [await f if f is not None else None for f in turn.earlier]
        stood_in = False
        for turn_number, position in answered.items():
            text = answers[turn_number - 1] if turn_number <= len(answers) else None
            if text is None:
                stood_in = True
            else:
                messages[position] = {"role": "assistant", "content": text}
        counts = self.recorded if stood_in else self.own
        counts[variant] = counts.get(variant, 0) + 1
        return messages

    def stood_in(self, variant: str) -> int:
        return self.recorded.get(variant, 0)


def _answer_positions(messages: list[dict[str, str]]) -> dict[int, int]:
    """Where each earlier turn's answer sits: the first assistant message after the turn's user
    message, by turn number (a greeting before the first user message, or a second assistant
    message in a row, is left as recorded)."""
    positions: dict[int, int] = {}
    users = 0
    for i, message in enumerate(messages[:-1]):  # the last is this turn's own question
        if message["role"] == "user":
            users += 1
        elif message["role"] == "assistant" and users and users not in positions:
            positions[users] = i
    return positions


async def stream_prompt(
    target: Target, prompt: Prompt, options: RequestOptions, history: OwnHistory | None, clock: SessionClock
) -> tuple[StreamOutcome, float | None]:
    """One request of the load, and the session time its history was ready at when it had to wait
    for its variant's answer to the turn before (else None): that wait is the conversation's, not
    the scheduler's lag."""
    if history is None:
        return await target.client.stream_chat(prompt.as_messages(), options), None
    turn = history.begin(target.variant, prompt)
    waits = turn.waits
    try:
        messages = await history.messages(target.variant, turn)
        ready = clock.now() if waits else None
        outcome = await target.client.stream_chat(messages, options)
    except BaseException:
        turn.finish(None)  # cancelled before its answer: the recorded one stands in for it
        raise
    turn.finish(outcome.text if outcome.ok else None)
    return outcome, ready
