"""vLLM 0.32 response bodies, key for key and in the same order as the captured fixtures
(`/work/shared/fixtures/vllm-sse`, `vllm-http`): clients are tested against these shapes.
"""

from __future__ import annotations

import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from quanttui.sim.httpwire import dump_json

INVALID_UTF8 = b"\xff\xfe"
_INVALID_MARK = "@@invalid-utf8@@"


@dataclass
class Completion:
    """Identity of one chat completion: the fields repeated on every chunk."""

    model: str
    fingerprint: str
    id: str = field(default_factory=lambda: "chatcmpl-" + secrets.token_hex(8))
    created: int = field(default_factory=lambda: int(time.time()))

    def _head(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def role_chunk(self) -> bytes:
        choice = {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None}
        choice["finish_reason"] = None
        chunk = self._head("chat.completion.chunk") | {"choices": [choice]}
        return dump_json(chunk | {"prompt_token_ids": None, "prompt_text": None})

    def token_chunk(self, text: str, finish_reason: str | None = None, fingerprint: bool = False) -> bytes:
        """A token chunk; the last one carries finish_reason and stop_reason (and, without usage,
        the system_fingerprint)."""
        choice: dict[str, Any] = {"index": 0, "delta": {"content": text}, "logprobs": None}
        choice["finish_reason"] = finish_reason
        if finish_reason is not None:
            choice["stop_reason"] = None
        choice["token_ids"] = None
        chunk = self._head("chat.completion.chunk") | {"choices": [choice]}
        if fingerprint:
            chunk["system_fingerprint"] = self.fingerprint
        return dump_json(chunk)

    def invalid_utf8_chunk(self, finish_reason: str | None = None, fingerprint: bool = False) -> bytes:
        """A token chunk whose content is raw bytes that are not UTF-8."""
        chunk = self.token_chunk(_INVALID_MARK, finish_reason, fingerprint)
        return chunk.replace(_INVALID_MARK.encode(), INVALID_UTF8)

    def usage_chunk(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        usage = _usage(prompt_tokens, completion_tokens)
        chunk = self._head("chat.completion.chunk") | {"choices": [], "usage": usage}
        return dump_json(chunk | {"system_fingerprint": self.fingerprint})

    def full_response(
        self, text: str, finish_reason: str, prompt_tokens: int, completion_tokens: int
    ) -> bytes:
        message = {"role": "assistant", "content": text, "refusal": None, "annotations": None}
        message |= {"audio": None, "function_call": None, "reasoning": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        choice |= {"stop_reason": None, "token_ids": None, "routed_experts": None}
        usage = _usage(prompt_tokens, completion_tokens)
        usage |= {"prompt_tokens_details": None, "completion_tokens_details": None}
        body = self._head("chat.completion") | {"choices": [choice], "service_tier": None}
        body |= {"system_fingerprint": self.fingerprint, "usage": usage, "prompt_logprobs": None}
        body |= {"prompt_token_ids": None, "prompt_text": None, "kv_transfer_params": None}
        return dump_json(body | {"ec_transfer_params": None})


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    total = prompt_tokens + completion_tokens
    return {"prompt_tokens": prompt_tokens, "total_tokens": total, "completion_tokens": completion_tokens}


def fingerprint(model: str, version: str) -> str:
    return f"vllm-{version}-{zlib.crc32(model.encode()):08x}"


def error_body(message: str, err_type: str, code: int, param: str | None = None) -> dict[str, Any]:
    """vLLM's ErrorResponse as an HTTP body."""
    return {"error": {"message": message, "type": err_type, "param": param, "code": code}}


def stream_error_event(message: str) -> bytes:
    """vLLM's in-stream error (create_streaming_error_response uses json.dumps, hence the spaces)."""
    return json.dumps(error_body(message, "InternalServerError", 500)).encode()


def models_body(model: str, max_model_len: int, created: int) -> dict[str, Any]:
    permission = {
        "id": "modelperm-" + secrets.token_hex(8),
        "object": "model_permission",
        "created": created,
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": False,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }
    card = {
        "id": model,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": f"/models/{model}",
    }
    card |= {"parent": None, "max_model_len": max_model_len, "permission": [permission]}
    return {"object": "list", "data": [card]}


HTML_503 = b"""<html>
<head><title>503 Service Temporarily Unavailable</title></head>
<body>
<center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
