"""Prompt datasets from files (issue 19): OpenAI chat JSONL, ShareGPT-style JSON and plain text,
recorded conversations replayed turn by turn, every bad entry named by file, line and field."""

import json

import pytest

from quanttui.io.prompt_file import PromptFileError, load_prompts, shipped_conversations

SHAREGPT = [
    {"id": "c1", "conversations": [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "Name a prime."},
        {"from": "gpt", "value": "7."},
        {"from": "human", "value": "And an even one?"},
    ]},
    {"conversations": [{"from": "human", "value": "Hello"}]},
]  # fmt: skip


def test_sharegpt_conversations_become_one_request_per_user_turn(tmp_path):
    path = tmp_path / "chats.json"
    path.write_text(json.dumps(SHAREGPT, indent=2))
    prompts = load_prompts(path)
    assert [p.id for p in prompts] == ["c1#1", "c1#2", f"line-{_line_of(path, 1)}#1"]
    assert prompts[0].messages == (("system", "Be brief."), ("user", "Name a prime."))
    # the second turn carries the recorded answer as history, the same for every variant
    assert prompts[1].messages[-3:] == (
        ("user", "Name a prime."),
        ("assistant", "7."),
        ("user", "And an even one?"),
    )


def _line_of(path, entry: int) -> int:
    """The line the entry-th `{` of the top-level array starts on (json.dumps indent=2)."""
    lines = path.read_text().splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if line.startswith("  {")]
    return starts[entry]


def test_an_openai_chat_line_that_ends_with_the_answer_is_replayed_turn_by_turn(tmp_path):
    path = tmp_path / "chats.jsonl"
    rows = [
        {"id": "a", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                                 {"role": "user", "content": "bye"}, {"role": "assistant", "content": "ciao"}]},
        {"id": "b", "messages": [{"role": "user", "content": "one request"}]},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    prompts = load_prompts(path)
    assert [p.id for p in prompts] == ["a#1", "a#2", "b"]
    assert prompts[1].messages == (("user", "hi"), ("assistant", "hello"), ("user", "bye"))


@pytest.mark.parametrize(
    "entries, needle",
    [
        (
            [SHAREGPT[0], {"conversations": [{"from": "robot", "value": "x"}]}],
            "field 'conversations[0].from'",
        ),
        ([{"conversations": [{"from": "human", "value": 3}]}], "field 'conversations[0].value'"),
        ([{"conversations": []}], "field 'conversations': expected a non-empty list"),
        (
            [{"conversations": [{"from": "gpt", "value": "only an answer"}]}],
            "a conversation without a user turn",
        ),
    ],
)
def test_a_bad_sharegpt_entry_is_named_by_its_line_and_field(tmp_path, entries, needle):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(entries, indent=2))
    with pytest.raises(PromptFileError) as error:
        load_prompts(path)
    assert str(error.value).startswith(f"{path}:{_line_of(path, len(entries) - 1)}: ")
    assert needle in str(error.value)


def test_a_broken_json_array_names_its_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"conversations": [{"from": "human", "value": "a"}]},\n  {"conversations": [\n')
    with pytest.raises(PromptFileError, match=r"bad\.json:4: not valid JSON"):
        load_prompts(path)


def test_the_shipped_conversations_are_multi_turn():
    turns = shipped_conversations()
    conversations = {p.id.partition("#")[0] for p in turns}
    assert len(conversations) == 12 and len(turns) == 27
    for before, turn in zip(turns, turns[1:], strict=False):
        if turn.id.endswith("#1"):
            continue  # a new conversation
        n = len(before.messages)  # the turn before it, then the recorded answer, then the new question
        assert turn.messages[:n] == before.messages and turn.messages[n][0] == "assistant"
        assert turn.messages[-1][0] == "user" and len(turn.messages) == n + 2
