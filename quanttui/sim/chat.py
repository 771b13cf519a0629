"""Parse and validate a chat completion request the way vLLM does, and plan its output length."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quanttui.sim.engine import SimConfig


class InvalidRequest(ValueError):
    """Answered with vLLM's 400 BadRequestError body."""


@dataclass(frozen=True)
class ChatRequest:
    model: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    ignore_eos: bool
    seed: int | None
    prompt_text: str  # every message's text, joined
    last_user_text: str  # where a [[fault:...]] directive is looked for

    @property
    def prompt_tokens(self) -> int:
        """A deterministic stand-in for the tokenizer: whitespace-separated words, at least 1."""
        return max(1, len(self.prompt_text.split()))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    if content is None:
        return ""
    raise InvalidRequest("message content must be a string or a list of parts")


def _optional_int(body: dict[str, Any], key: str, minimum: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidRequest(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_chat(raw: bytes, served_model: str) -> ChatRequest:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"JSON decode error: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise InvalidRequest("messages must be a non-empty list of objects")
    texts = [_content_text(m.get("content")) for m in messages]
    user_texts = [t for m, t in zip(messages, texts, strict=True) if m.get("role") == "user"]
    model = body.get("model") or served_model
    if not isinstance(model, str):
        raise InvalidRequest("model must be a string")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise InvalidRequest("stream_options must be an object")
    max_tokens = _optional_int(body, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _optional_int(body, "max_tokens", 1)
    return ChatRequest(
        model=model,
        stream=bool(body.get("stream", False)),
        include_usage=bool(options.get("include_usage", False)),
        max_tokens=max_tokens,
        ignore_eos=bool(body.get("ignore_eos", False)),
        seed=_optional_int(body, "seed", -(2**63)),
        prompt_text="\n".join(texts),
        last_user_text=user_texts[-1] if user_texts else "",
    )


def plan_output(chat: ChatRequest, config: SimConfig, eos_after: float | None = None) -> tuple[int, str]:
    """(completion tokens, finish_reason): the "EOS" comes after `eos_after` tokens (default
    config.output_tokens; inf: never) unless ignore_eos; max_tokens (default: what is left of
    max_model_len) cuts with "length"."""
    prompt = chat.prompt_tokens
    room = config.max_model_len - prompt
    if room <= 0:
        raise InvalidRequest(
            f"This model's maximum context length is {config.max_model_len} tokens. However, your request "
            f"has {prompt} input tokens. Please reduce the length of the input messages."
        )
    if chat.max_tokens is not None and chat.max_tokens > room:
        raise InvalidRequest(
            f"'max_tokens' or 'max_completion_tokens' is too large: {chat.max_tokens}. This model's maximum "
            f"context length is {config.max_model_len} tokens and your request has {prompt} input tokens "
            f"({chat.max_tokens} > {config.max_model_len} - {prompt})."
        )
    limit = room if chat.max_tokens is None else chat.max_tokens
    eos = config.output_tokens if eos_after is None else eos_after
    if chat.ignore_eos or limit < eos:
        return limit, "length"
    return max(1, int(eos)), "stop"
