"""Streaming client for OpenAI-compatible chat completions, timed like `vllm bench serve`.

TTFT is the first chunk that carries output (content, reasoning or tool calls; the opening
role-only chunk does not count), ITL the gaps between such chunks, E2E the last such chunk,
all on perf_counter from just before the request is sent. Each read from the connection is
stamped as it returns, before any of its bytes are parsed; events that arrived in one read share
that stamp, and are counted (`ReadStats.coalesced`) because their gaps are not resolvable.
Output tokens come from `usage.completion_tokens`; without usage the token chunks are counted
and the result says so. Every failure is returned as an error class, never raised: a load test
must outlive its server.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from quanttui import __version__
from quanttui.core.events import ErrorClass
from quanttui.io.stream_outcome import ReadStats, StreamOutcome, StreamState, one_line

USER_AGENT = f"quanttui/{__version__}"
_MAX_ERROR_BODY = 64 * 1024


class EndpointError(Exception):
    """An endpoint that cannot be used at all (unreachable, no models); one-line message."""


def split_base_url(url: str) -> str:
    """Server root from a URL given with or without the /v1 suffix."""
    root = url.strip().rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    if not root.startswith(("http://", "https://")):
        raise ValueError(f"endpoint URL must start with http:// or https://, got {url!r}")
    try:
        parts = urlsplit(root)
        parts.port  # noqa: B018 - raises on a port outside 0-65535 or not a number
    except ValueError as exc:
        raise ValueError(f"endpoint URL {url!r}: {exc}") from None
    if not parts.hostname:
        raise ValueError(f"endpoint URL {url!r} names no host")
    return root


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 10.0
    first_token_s: float = 120.0  # from sending the request to the first token chunk
    idle_s: float = 60.0  # longest gap allowed between two chunks after the first token
    total_s: float | None = None  # ceiling for the whole request

    def __post_init__(self) -> None:
        for name in ("connect_s", "first_token_s", "idle_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"timeout {name} must be > 0")
        if self.total_s is not None and not self.total_s > 0:
            raise ValueError("request timeout must be > 0")


@dataclass(frozen=True)
class RequestOptions:
    max_tokens: int = 128
    temperature: float = 0.0
    seed: int | None = None
    ignore_eos: bool = False
    top_logprobs: int | None = None
    token_ids_in_logprobs: bool = False  # vLLM's return_tokens_as_token_ids: "token_id:123"

    def body(self, model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if self.ignore_eos:
            body["ignore_eos"] = True
        if self.top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
            if self.token_ids_in_logprobs:
                body["return_tokens_as_token_ids"] = True
        return body


def _error_body_detail(status: int, body: bytes, retry_after: str | None) -> str:
    detail = ""
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            err = data.get("error", data)
            if isinstance(err, dict):
                detail = str(err.get("message") or err.get("detail") or "")
            elif isinstance(err, str):
                detail = err
    except (json.JSONDecodeError, UnicodeDecodeError):
        detail = body[:400].decode("utf-8", "replace")
    detail = one_line(f"HTTP {status}: {detail}" if detail else f"HTTP {status}")
    if retry_after:
        detail += f" (Retry-After: {one_line(retry_after, 40)})"
    return detail


# httpcore's trace events at which a request starts to leave: a cold stream opens its connection
# first (a user would wait for that too), a warm one writes its headers at once.
_SEND_STARTS = frozenset({"connection.connect_tcp.started", "http11.send_request_headers.started"})
_JSON = {"content-type": "application/json"}


# httpcore's pool does work proportional to its size on every request and release, so one pool
# of 64+ connections adds hundreds of ms of client-side queueing when many streams end together
# (measured with the simulator; notes in docs/ARCHITECTURE.md). Small pools avoid that.
CONNECTIONS_PER_POOL = 4


class OpenAIStreamClient:
    """The client of one endpoint: httpx.AsyncClient pools sized together to the concurrency.

    Each request goes to the pool with the fewest requests in flight, so no request waits for a
    connection while the total in flight stays within `concurrency`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        concurrency: int = 1,
        timeouts: Timeouts | None = None,
        connections_per_pool: int = CONNECTIONS_PER_POOL,
        stats: ReadStats | None = None,
    ) -> None:
        self.root = split_base_url(base_url)
        self.stats = stats if stats is not None else ReadStats()
        self.model = model
        self.timeouts = timeouts or Timeouts()
        headers = {"User-Agent": USER_AGENT}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        concurrency = max(1, concurrency)
        self._headers = headers
        self._per_pool = max(1, min(connections_per_pool, concurrency))
        # Pools are made when first needed (a request, or /v1/models): building thousands at once
        # would hold the event loop (and with it signal handling) for seconds.
        self._pools: list[httpx.AsyncClient | None] = [None] * -(-concurrency // self._per_pool)
        self._in_flight = [0] * len(self._pools)

    def _pool(self, index: int) -> httpx.AsyncClient:
        pool = self._pools[index]
        if pool is None:
            pool = httpx.AsyncClient(
                base_url=self.root,
                headers=self._headers,
                limits=httpx.Limits(max_connections=self._per_pool, max_keepalive_connections=self._per_pool),
                timeout=httpx.Timeout(connect=self.timeouts.connect_s, read=None, write=30.0, pool=None),
                trust_env=False,
            )
            self._pools[index] = pool
        return pool

    async def aclose(self) -> None:
        await asyncio.gather(*(pool.aclose() for pool in self._pools if pool is not None))

    def _least_busy(self) -> int:
        return min(range(len(self._pools)), key=self._in_flight.__getitem__)

    async def __aenter__(self) -> OpenAIStreamClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def list_models(self) -> list[str]:
        """Served model ids from GET /v1/models; EndpointError with a one-line reason otherwise."""
        try:
            response = await self._pool(0).get("/v1/models", timeout=self.timeouts.connect_s + 5)
        except httpx.TimeoutException:
            raise EndpointError(f"{self.root}: timed out asking for /v1/models") from None
        except httpx.HTTPError as exc:
            raise EndpointError(
                f"{self.root}: unreachable ({one_line(str(exc) or type(exc).__name__)})"
            ) from None
        if response.status_code != 200:
            detail = _error_body_detail(response.status_code, response.content[:_MAX_ERROR_BODY], None)
            raise EndpointError(f"{self.root}/v1/models: {detail}")
        try:
            data = response.json()
            ids = [str(m["id"]) for m in data["data"]]
        except (ValueError, KeyError, TypeError):
            raise EndpointError(f"{self.root}/v1/models: reply has no data[].id list") from None
        if not ids:
            raise EndpointError(f"{self.root}/v1/models: the server lists no model")
        return ids

    async def stream_chat(
        self, messages: list[dict[str, str]], options: RequestOptions, model: str | None = None
    ) -> StreamOutcome:
        """One streamed chat request (to `model`, else the client's model), timed and classified."""
        pool = self._least_busy()
        self._in_flight[pool] += 1
        self.stats.in_flight += 1
        try:
            outcome, stale = await self._stream_chat(self._pool(pool), messages, options, model or self.model)
            if stale:  # a kept-alive connection the server had just closed: the request never arrived
                outcome, _ = await self._stream_chat(self._pool(pool), messages, options, model or self.model)
            return outcome
        finally:
            self._in_flight[pool] -= 1
            self.stats.in_flight -= 1

    async def _stream_chat(
        self, client: httpx.AsyncClient, messages: list[dict[str, str]], options: RequestOptions, model: str
    ) -> tuple[StreamOutcome, bool]:
        """The outcome, and whether it failed on a reused connection before any response byte (a
        server closes idle keep-alive connections, uvicorn after 5 s; one may close as it is reused)."""
        content = json.dumps(options.body(model, messages), separators=(",", ":")).encode()
        loop = asyncio.get_running_loop()
        started = loop.time()
        total_deadline = started + self.timeouts.total_s if self.timeouts.total_s else None
        state = StreamState(time.perf_counter_ns())  # until the request goes out (the trace below)
        status: int | None = None
        sent = False
        reused = True

        async def trace(name: str, info: object) -> None:
            """The request's clock starts when its bytes go to the socket (or its connection starts
            to open, on a cold stream), not when this task began preparing it: time spent waiting
            for the loop or the pool before that is the client's own, not the server's."""
            nonlocal sent, reused
            if not sent and name in _SEND_STARTS:
                state.start_ns, sent = time.perf_counter_ns(), True
            if name == "connection.connect_tcp.started":
                reused = False

        def capped(deadline: float) -> float:
            return min(deadline, total_deadline) if total_deadline else deadline

        def timeout_class() -> ErrorClass:
            if total_deadline is not None and loop.time() >= total_deadline - 1e-3:
                return ErrorClass.TIMEOUT_TOTAL
            return ErrorClass.TIMEOUT_IDLE if state.token_times else ErrorClass.TIMEOUT_FIRST_TOKEN

        error: tuple[ErrorClass, str] | None = None
        stale = False
        try:
            async with asyncio.timeout_at(capped(started + self.timeouts.first_token_s)) as deadline:
                async with client.stream(
                    "POST",
                    "/v1/chat/completions",
                    content=content,
                    headers=_JSON,
                    extensions={"trace": trace},
                ) as response:
                    status = response.status_code
                    if status != 200:
                        raw = b""
                        async for part in response.aiter_bytes():
                            raw += part
                            if len(raw) >= _MAX_ERROR_BODY:
                                break
                        detail = _error_body_detail(status, raw, response.headers.get("retry-after"))
                        error = (ErrorClass.HTTP_STATUS, detail)
                    else:
                        error = await self._read_events(response, state, deadline, capped)
        except TimeoutError:
            if state.done:
                error = None  # the body did not close after [DONE]: the answer itself is complete
            else:
                kind = timeout_class()
                error = (kind, f"{kind.value.removeprefix('timeout_').replace('_', ' ')} timeout expired")
        except httpx.ConnectTimeout:
            error = (ErrorClass.TIMEOUT_CONNECT, f"connect timed out after {self.timeouts.connect_s:g} s")
        except httpx.ConnectError as exc:
            error = (ErrorClass.CONNECT, one_line(f"connect failed: {exc}"))
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            kind = ErrorClass.READ_ERROR if status is not None else ErrorClass.CONNECT
            error = (kind, one_line(f"{type(exc).__name__}: {exc}"))
            stale = status is None and reused and sent
        except httpx.TimeoutException as exc:
            error = (timeout_class(), one_line(f"{type(exc).__name__}: {exc}"))
        except httpx.HTTPError as exc:
            error = (ErrorClass.READ_ERROR, one_line(f"{type(exc).__name__}: {exc}"))
        end_ns = time.perf_counter_ns()
        return state.outcome(end_ns, error, status), stale

    async def _read_events(
        self,
        response: httpx.Response,
        state: StreamState,
        deadline: asyncio.Timeout,
        capped: Any,
    ) -> tuple[ErrorClass, str] | None:
        """Split the body into SSE lines ourselves, stamping each read as it returns (httpx's
        aiter_lines would stamp lines after decoding and splitting the earlier ones)."""
        loop = asyncio.get_running_loop()
        stats = self.stats
        pending = b""
        async for data in response.aiter_bytes():
            now_ns = time.perf_counter_ns()
            stats.reads += 1
            before = len(state.token_times)
            if before and not state.done:
                deadline.reschedule(capped(loop.time() + self.timeouts.idle_s))
            pending += data
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                problem = self._line(raw.rstrip(b"\r"), state, now_ns, deadline, capped)
                if problem:
                    return problem
            arrived = len(state.token_times) - before
            stats.token_chunks += arrived
            if arrived > 1:
                stats.coalesced += arrived - 1
            if not before and arrived:
                deadline.reschedule(capped(loop.time() + self.timeouts.idle_s))
        if pending.strip():
            return self._line(pending.rstrip(b"\r"), state, time.perf_counter_ns(), deadline, capped)
        return None

    def _line(
        self, raw: bytes, state: StreamState, now_ns: int, deadline: asyncio.Timeout, capped: Any
    ) -> tuple[ErrorClass, str] | None:
        if not raw or raw.startswith(b":") or state.done:
            return None
        line = raw.decode("utf-8", "replace")
        if line.startswith("data:"):
            problem = state.handle(line[5:].strip(), now_ns)
            if problem:
                return problem
            if state.done:
                # Read the body to its end so the connection goes back to the pool.
                deadline.reschedule(asyncio.get_running_loop().time() + 2.0)
            return None
        if line.startswith(("event:", "id:", "retry:")):
            return None
        return ErrorClass.MALFORMED_STREAM, f"not an SSE line: {one_line(line, 80)!r}"
