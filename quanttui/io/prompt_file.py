"""Load prompts from a file: JSON Lines ({"prompt": ...} or {"messages": [...]}) or plain text.

Errors are one line naming the file, the line and the field.
"""

from __future__ import annotations

import json
from pathlib import Path

from quanttui.core.prompts import Prompt

_ROLES = {"system", "user", "assistant"}


class PromptFileError(ValueError):
    pass


def _from_object(data: object, where: str, lineno: int) -> Prompt:
    if not isinstance(data, dict):
        raise PromptFileError(f"{where}: expected a JSON object")
    prompt_id = data.get("id", f"line-{lineno}")
    if not isinstance(prompt_id, str | int):
        raise PromptFileError(f"{where}: field 'id': expected a string")
    if "prompt" in data:
        text = data["prompt"]
        if not isinstance(text, str) or not text.strip():
            raise PromptFileError(f"{where}: field 'prompt': expected a non-empty string")
        return Prompt.user(str(prompt_id), text)
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
        return Prompt(id=str(prompt_id), messages=tuple(pairs))
    raise PromptFileError(f"{where}: field 'prompt': missing (or give 'messages')")


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
            prompts.append(_from_object(data, where, lineno))
        else:
            prompts.append(Prompt.user(f"line-{lineno}", line.strip()))
    if not prompts:
        raise PromptFileError(f"{path}: no prompts in file")
    return prompts
