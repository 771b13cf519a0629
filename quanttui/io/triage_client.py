"""The requests of a quality triage beside the streamed answers: vLLM's /tokenize, the model's
context window, and teacher-forced scoring with `prompt_logprobs` (a vLLM extension).

Scoring sends the reference's prompt and greedy continuation as token ids to another variant and
reads that variant's top-k next-token logprobs at every position: the input of the KL divergence
and top-1 agreement in `core/logprob_compare.py`. Every failure is a `TriageRequestError` with one
line saying which request failed and why; nothing here raises anything else.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from quanttui.io.openai_client import USER_AGENT, Timeouts


class TriageRequestError(Exception):
    """A tokenize / models / scoring request failed; the message is one line."""


class TriageClient:
    def __init__(self, root: str, model: str, api_key: str | None, timeouts: Timeouts) -> None:
        self.root = root.rstrip("/")
        self.model = model
        headers = {"User-Agent": USER_AGENT}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        timeout = httpx.Timeout(timeouts.total_s or 600.0, connect=timeouts.connect_s)
        self._http = httpx.AsyncClient(headers=headers, timeout=timeout, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, what: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.root}{path}"
        try:
            response = await self._http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise TriageRequestError(f"{what} at {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            detail = " ".join(response.text[:300].split())
            raise TriageRequestError(f"{what} at {url}: HTTP {response.status_code}: {detail}")
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TriageRequestError(f"{what} at {url}: the reply is not JSON") from None

    async def max_model_len(self) -> int | None:
        """The served model's context window, as vLLM's /v1/models states it (None if unsaid)."""
        data = await self._call("GET", "/v1/models", "listing models")
        for entry in data.get("data", []) if isinstance(data, dict) else []:
            if isinstance(entry, dict) and entry.get("id") == self.model:
                value = entry.get("max_model_len")
                return value if isinstance(value, int) and value > 0 else None
        return None

    async def speaks_vllm(self) -> bool:
        """False when the engine has no /tokenize route (404 or 405), as llama-cpp-python's server:
        teacher-forced scoring with prompt_logprobs is then not possible there. Unknown (no answer)
        counts as True, so a passing hiccup never turns scoring off."""
        body = {"model": self.model, "prompt": "a"}
        try:
            response = await self._http.post(f"{self.root}/tokenize", json=body)
        except httpx.HTTPError:
            return True
        return response.status_code not in (404, 405)

    async def tokenize_chat(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt's token ids with the chat template applied, as the engine itself would."""
        body = {"model": self.model, "messages": messages, "add_generation_prompt": True}
        data = await self._call("POST", "/tokenize", "tokenizing the prompt", body)
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise TriageRequestError(
                f"tokenizing the prompt at {self.root}: field 'tokens': not a list of ids"
            )
        return tokens

    async def score(self, token_ids: list[int], top_k: int) -> list[Any]:
        """`prompt_logprobs` of the whole sequence: one entry per position (the first is null)."""
        body = {
            "model": self.model,
            "prompt": token_ids,
            "max_tokens": 1,
            "temperature": 0.0,
            "prompt_logprobs": top_k,
        }
        data = await self._call("POST", "/v1/completions", "scoring the reference answer", body)
        try:
            entries = data["choices"][0]["prompt_logprobs"]
        except (KeyError, IndexError, TypeError):
            raise TriageRequestError(
                f"scoring at {self.root}: field 'choices[0].prompt_logprobs' missing (not vLLM?)"
            ) from None
        if not isinstance(entries, list):
            raise TriageRequestError(f"scoring at {self.root}: field 'prompt_logprobs': not a list")
        return entries
