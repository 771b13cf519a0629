"""What one streamed chat request yields: its outcome, and the state that builds it from SSE
events as they are read (io/openai_client.py does the HTTP and the stamping)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from quanttui.core.events import ErrorClass


@dataclass
class StreamOutcome:
    ok: bool
    start_ns: int
    end_ns: int
    error: ErrorClass | None = None
    http_status: int | None = None
    error_detail: str = ""
    ttft_s: float | None = None
    e2e_s: float | None = None
    itl_us: list[int] = field(default_factory=list)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    output_tokens_estimated: bool = False
    finish_reason: str | None = None
    text: str = ""
    token_chunks: int = 0
    logprobs: list[Any] = field(default_factory=list)  # choices[0].logprobs.content entries, as sent
    replica: str | None = None  # the fleet replica that answered (session/fleet_client.py)


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _is_token_chunk(delta: dict[str, Any]) -> bool:
    content = delta.get("content")
    if content is not None and not (content == "" and "role" in delta):
        return True
    return bool(delta.get("reasoning_content") or delta.get("reasoning") or delta.get("tool_calls"))


@dataclass
class ReadStats:
    """What a client's streams read, for the self-checks (io/loop_probe.py samples it).

    `coalesced` counts token chunks that arrived in the same read as an earlier one: they carry
    that read's stamp, so the gap before each is an upper bound of ~0, not a measurement. Many of
    them mean the reader was late (a busy event loop or CPU), not that the server sent them so."""

    reads: int = 0
    token_chunks: int = 0
    coalesced: int = 0
    in_flight: int = 0


class StreamState:
    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.token_times: list[int] = []
        self.text: list[str] = []
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.logprobs: list[Any] = []

    def handle(self, payload: str, now_ns: int) -> tuple[ErrorClass, str] | None:
        if payload == "[DONE]":
            self.done = True
            return None
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError:
            return ErrorClass.MALFORMED_STREAM, f"data line is not JSON: {one_line(payload, 80)!r}"
        if not isinstance(chunk, dict):
            return ErrorClass.MALFORMED_STREAM, "data line is not a JSON object"
        if "error" in chunk and chunk["error"]:
            err = chunk["error"]
            message = err.get("message", "") if isinstance(err, dict) else str(err)
            return ErrorClass.STREAM_ERROR, one_line(f"error in stream: {message}")
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices:
            choice = choices[0] if isinstance(choices[0], dict) else {}
            delta = choice.get("delta")
            if isinstance(delta, dict) and _is_token_chunk(delta):
                self.token_times.append(now_ns)
                content = delta.get("content")
                if isinstance(content, str):
                    self.text.append(content)
            logprobs = choice.get("logprobs")
            if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
                self.logprobs.extend(logprobs["content"])
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        return None

    def outcome(self, end_ns: int, error: tuple[ErrorClass, str] | None, status: int | None) -> StreamOutcome:
        times = self.token_times
        result = StreamOutcome(ok=False, start_ns=self.start_ns, end_ns=end_ns, http_status=status)
        result.text = "".join(self.text)
        result.logprobs = self.logprobs
        result.token_chunks = len(times)
        result.finish_reason = self.finish_reason
        if times:
            result.ttft_s = (times[0] - self.start_ns) / 1e9
            result.e2e_s = (times[-1] - self.start_ns) / 1e9
            result.itl_us = [round((b - a) / 1000) for a, b in zip(times, times[1:], strict=False)]
        usage = self.usage or {}
        completion = usage.get("completion_tokens")
        prompt = usage.get("prompt_tokens")
        result.prompt_tokens = prompt if isinstance(prompt, int) else None
        if isinstance(completion, int) and not isinstance(completion, bool):
            result.output_tokens = completion
        elif times:
            result.output_tokens = len(times)
            result.output_tokens_estimated = True
        if error is None and not self.done:
            error = (ErrorClass.NO_DONE, "stream ended without [DONE]")
        if error is None and not times:
            error = (ErrorClass.NO_CONTENT, "stream carried no token chunk")
        if error is None:
            result.ok = True
        else:
            result.error, result.error_detail = error
        return result
