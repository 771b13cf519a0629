"""Load prompts from a file: JSON Lines ({"prompt": ...} or {"messages": [...]}, OpenAI chat),
ShareGPT-style JSON (an array of {"conversations": [{"from": "human", "value": ...}, ...]}), or
plain text (one prompt a line).

A recorded conversation (ShareGPT, or a `messages` list that ends with the assistant's answer) is
replayed turn by turn: one request per user turn, with the conversation so far before it and the
recorded answers as the earlier assistant turns, so every variant gets exactly the same requests
(`turns`). Errors are one line naming the file, the line and the field.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from quanttui.core.prompts import Prompt

_ROLES = {"system", "user", "assistant"}
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system"}  # fmt: skip
SHIPPED_CONVERSATIONS = "quanttui/data/conversations/default.json"
CONVERSATION_TURN = re.compile(r"#\d+$")  # the id of one turn of a replayed conversation: "support-vpn#2"


class PromptFileError(ValueError):
    pass


def _from_object(data: object, where: str, lineno: int) -> list[Prompt]:
    if not isinstance(data, dict):
        raise PromptFileError(f"{where}: expected a JSON object")
    prompt_id = data.get("id", f"line-{lineno}")
    if not isinstance(prompt_id, str | int):
        raise PromptFileError(f"{where}: field 'id': expected a string")
    if "prompt" in data:
        text = data["prompt"]
        if not isinstance(text, str) or not text.strip():
            raise PromptFileError(f"{where}: field 'prompt': expected a non-empty string")
        return [Prompt.user(str(prompt_id), text)]
    if "messages" in data:
        messages = data["messages"]
        if not isinstance(messages, list) or not messages:
            raise PromptFileError(f"{where}: field 'messages': expected a non-empty list")
        pairs: list[tuple[str, str]] = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise PromptFileError(f"{where}: field 'messages[{i}]': expected an object")
            role, content = message.get("role"), message.get("content")
            if role not in _ROLES:
                raise PromptFileError(
                    f"{where}: field 'messages[{i}].role': expected one of {sorted(_ROLES)}"
                )
            if not isinstance(content, str):
                raise PromptFileError(f"{where}: field 'messages[{i}].content': expected a string")
            pairs.append((role, content))
        if pairs[-1][0] == "assistant":  # a recorded conversation: replayed turn by turn
            return turns(str(prompt_id), pairs, where)
        return [Prompt(id=str(prompt_id), messages=tuple(pairs))]
    if "conversations" in data:
        return turns(str(prompt_id), _sharegpt(data["conversations"], where), where)
    raise PromptFileError(f"{where}: field 'prompt': missing (or give 'messages' or 'conversations')")


def _sharegpt(conversation: object, where: str) -> list[tuple[str, str]]:
    if not isinstance(conversation, list) or not conversation:
        raise PromptFileError(f"{where}: field 'conversations': expected a non-empty list")
    pairs = []
    for i, turn in enumerate(conversation):
        if not isinstance(turn, dict):
            raise PromptFileError(f"{where}: field 'conversations[{i}]': expected an object")
        role = _SHAREGPT_ROLES.get(turn.get("from"))  # type: ignore[arg-type]
        if role is None:
            raise PromptFileError(
                f"{where}: field 'conversations[{i}].from': expected one of {sorted(_SHAREGPT_ROLES)}"
            )
        value = turn.get("value")
        if not isinstance(value, str):
            raise PromptFileError(f"{where}: field 'conversations[{i}].value': expected a string")
        pairs.append((role, value))
    return pairs


def turns(conversation_id: str, pairs: list[tuple[str, str]], where: str) -> list[Prompt]:
    """One request per user turn: the conversation up to and including it (the recorded answers
    as the earlier assistant turns)."""
    out: list[Prompt] = []
    for i, (role, _) in enumerate(pairs):
        if role == "user":
            out.append(Prompt(f"{conversation_id}#{len(out) + 1}", tuple(pairs[: i + 1])))
    if not out:
        raise PromptFileError(f"{where}: a conversation without a user turn")
    return out


PROMPT_SUFFIXES = (".jsonl", ".json", ".txt")


def load_prompts(path: Path) -> list[Prompt]:
    if path.suffix.lower() not in PROMPT_SUFFIXES:
        raise PromptFileError(
            f"{path}: a prompt file is .jsonl (one JSON object a line) or .txt (one prompt a line), "
            f"not {path.suffix or 'a file without a suffix'}"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PromptFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        prompts = [
            p
            for data, lineno in _array_entries(text, path)
            for p in _from_object(data, f"{path}:{lineno}", lineno)
        ]
        if not prompts:
            raise PromptFileError(f"{path}: no prompts in file")
        return prompts
    prompts: list[Prompt] = []
    as_jsonl = path.suffix.lower() in {".jsonl", ".json"}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or (not as_jsonl and line.lstrip().startswith("#")):
            continue
        where = f"{path}:{lineno}"
        if as_jsonl:
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PromptFileError(f"{where}: not valid JSON ({exc.msg})") from None
            prompts.extend(_from_object(data, where, lineno))
        else:
            prompts.append(Prompt.user(f"line-{lineno}", line.strip()))
    if not prompts:
        raise PromptFileError(f"{path}: no prompts in file")
    return prompts


def _array_entries(text: str, path: Path) -> list[tuple[object, int]]:
    """A JSON array's entries with the line each starts on (so a bad entry is named by its line)."""
    decoder = json.JSONDecoder()
    entries: list[tuple[object, int]] = []
    at = text.index("[") + 1
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        if at >= len(text):
            raise PromptFileError(f"{path}: not valid JSON (the array is not closed)")
        if text[at] == "]":
            return entries
        try:
            data, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise PromptFileError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        entries.append((data, text.count("\n", 0, at) + 1))
        at = end


def shipped_conversations() -> list[Prompt]:
    """The conversation set that ships with quanttui (written for it), turn by turn."""
    text = resources.files("quanttui.data.conversations").joinpath("default.json").read_text(encoding="utf-8")
    return [p for data, line in _array_entries(text, Path(SHIPPED_CONVERSATIONS))
            for p in _from_object(data, f"{SHIPPED_CONVERSATIONS}:{line}", line)]  # fmt: skip
