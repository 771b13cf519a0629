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

import aiohttp

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


_JSON = {"content-type": "application/json"}
# uvicorn (vLLM's server) closes a keep-alive connection after 5 s idle; dropping ours a little
# sooner makes a reuse that races the server's close (retried once, below) rare.
KEEPALIVE_S = 4.0


@dataclass
class _Send:
    """Per request, filled by the trace hooks: when its bytes left, and on what connection."""

    start_ns: int
    sent: bool = False
    reused: bool = False


async def _on_connect(session: object, ctx: Any, params: object) -> None:
    """A cold stream's clock starts as its connection starts to open (a user waits for that too)."""
    send: _Send = ctx.trace_request_ctx
    if not send.sent:
        send.start_ns, send.sent = time.perf_counter_ns(), True


async def _on_reuse(session: object, ctx: Any, params: object) -> None:
    ctx.trace_request_ctx.reused = True


async def _on_headers_sent(session: object, ctx: Any, params: object) -> None:
    """A warm stream's clock starts as its request goes to the socket, not when its task began
    preparing it: time spent waiting for the loop before that is the client's, not the server's."""
    send: _Send = ctx.trace_request_ctx
    if not send.sent:
        send.start_ns, send.sent = time.perf_counter_ns(), True


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_create_start.append(_on_connect)
    config.on_connection_reuseconn.append(_on_reuse)
    config.on_request_headers_sent.append(_on_headers_sent)
    return config


class OpenAIStreamClient:
    """The client of one endpoint: one aiohttp session whose connector holds up to `concurrency`
    connections, so no request waits for a connection while the total in flight stays within it.

    aiohttp, not httpx, carries the requests: on one core httpx spent 1.2 ms of CPU to set up a
    request and 0.10 ms per chunk against aiohttp's 0.33 and 0.055, which at 256 streams of 50
    chunks/s is more than the core has (measured with the simulator; docs/ARCHITECTURE.md).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        concurrency: int = 1,
        timeouts: Timeouts | None = None,
        stats: ReadStats | None = None,
    ) -> None:
        self.root = split_base_url(base_url)
        self.stats = stats if stats is not None else ReadStats()
        self.model = model
        self.timeouts = timeouts or Timeouts()
        headers = {"User-Agent": USER_AGENT}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._headers = headers
        self._concurrency = max(1, concurrency)
        self._session: aiohttp.ClientSession | None = None  # made on the loop that first uses it

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(
                    limit=self._concurrency, limit_per_host=0, keepalive_timeout=KEEPALIVE_S
                ),
                # sock_connect, not connect: a request waiting for a free connection is not connecting
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeouts.connect_s),
                trace_configs=[_trace_config()],
                trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> OpenAIStreamClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def list_models(self) -> list[str]:
        """Served model ids from GET /v1/models; EndpointError with a one-line reason otherwise."""
        try:
            async with asyncio.timeout(self.timeouts.connect_s + 5):
                async with self._http().get(self.root + "/v1/models", trace_request_ctx=_Send(0)) as response:
                    status = response.status
                    body = await response.content.read(_MAX_ERROR_BODY) if status != 200 else b""
                    data = await response.json(content_type=None) if status == 200 else None
        except TimeoutError:
            raise EndpointError(f"{self.root}: timed out asking for /v1/models") from None
        except aiohttp.ClientError as exc:
            raise EndpointError(
                f"{self.root}: unreachable ({one_line(str(exc) or type(exc).__name__)})"
            ) from None
        except ValueError:
            raise EndpointError(f"{self.root}/v1/models: reply has no data[].id list") from None
        if status != 200:
            raise EndpointError(f"{self.root}/v1/models: {_error_body_detail(status, body, None)}")
        try:
            ids = [str(m["id"]) for m in data["data"]]
        except (KeyError, TypeError):
            raise EndpointError(f"{self.root}/v1/models: reply has no data[].id list") from None
        if not ids:
            raise EndpointError(f"{self.root}/v1/models: the server lists no model")
        return ids

    async def stream_chat(
        self, messages: list[dict[str, str]], options: RequestOptions, model: str | None = None
    ) -> StreamOutcome:
        """One streamed chat request (to `model`, else the client's model), timed and classified."""
        self.stats.in_flight += 1
        try:
            outcome, stale = await self._stream_chat(messages, options, model or self.model)
            if stale:  # a kept-alive connection the server had just closed: the request never arrived
                outcome, _ = await self._stream_chat(messages, options, model or self.model)
            return outcome
        finally:
            self.stats.in_flight -= 1

    async def _stream_chat(
        self, messages: list[dict[str, str]], options: RequestOptions, model: str
    ) -> tuple[StreamOutcome, bool]:
        """The outcome, and whether it failed on a reused connection before any response byte (a
        server closes idle keep-alive connections, uvicorn after 5 s; one may close as it is reused)."""
        content = json.dumps(options.body(model, messages), separators=(",", ":")).encode()
        loop = asyncio.get_running_loop()
        started = loop.time()
        total_deadline = started + self.timeouts.total_s if self.timeouts.total_s else None
        send = _Send(time.perf_counter_ns())  # until the request goes out (the trace hooks)
        state = StreamState(send.start_ns)
        status: int | None = None

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
                async with self._http().post(
                    self.root + "/v1/chat/completions", data=content, headers=_JSON, trace_request_ctx=send
                ) as response:
                    state.start_ns = send.start_ns
                    status = response.status
                    if status != 200:
                        raw = b""
                        async for part in response.content.iter_any():
                            raw += part
                            if len(raw) >= _MAX_ERROR_BODY:
                                break
                        detail = _error_body_detail(status, raw, response.headers.get("retry-after"))
                        error = (ErrorClass.HTTP_STATUS, detail)
                    else:
                        error = await self._read_events(response, state, deadline, total_deadline)
        except aiohttp.ServerTimeoutError:  # before TimeoutError: it is one
            error = (ErrorClass.TIMEOUT_CONNECT, f"connect timed out after {self.timeouts.connect_s:g} s")
        except TimeoutError:
            if state.done:
                error = None  # the body did not close after [DONE]: the answer itself is complete
            else:
                kind = timeout_class()
                error = (kind, f"{kind.value.removeprefix('timeout_').replace('_', ' ')} timeout expired")
        except aiohttp.ClientConnectorError as exc:
            error = (ErrorClass.CONNECT, one_line(f"connect failed: {exc}"))
        except aiohttp.ClientError as exc:
            kind = ErrorClass.READ_ERROR if status is not None else ErrorClass.CONNECT
            error = (kind, one_line(f"{type(exc).__name__}: {exc}"))
            stale = status is None and send.reused and send.sent
        state.start_ns = send.start_ns
        end_ns = time.perf_counter_ns()
        return state.outcome(end_ns, error, status), stale

    async def _read_events(
        self,
        response: aiohttp.ClientResponse,
        state: StreamState,
        deadline: asyncio.Timeout,
        total_deadline: float | None,
    ) -> tuple[ErrorClass, str] | None:
        """Split the body into SSE lines ourselves and stamp each read as it returns.

        Streams that read in the same turn of the loop are stamped one after another, so every
        microsecond one spends on a chunk makes the next one's stamp later: the idle deadline is
        kept by a watchdog that wakes once per idle period instead of being moved on every chunk.
        (Parsing the lines only when the stream ends was tried: less CPU, but streams that end
        together then parse together, and the loop stalled up to 20 ms at 64 streams.)
        """
        loop = asyncio.get_running_loop()
        idle_ns = round(self.timeouts.idle_s * 1e9)
        last_ns = 0
        watchdog: asyncio.TimerHandle | None = None
        closing = False
        pending = b""

        def check_idle() -> None:
            nonlocal watchdog
            quiet_ns = time.perf_counter_ns() - last_ns
            if quiet_ns >= idle_ns:
                watchdog = None
                deadline.reschedule(loop.time())  # fires now: an idle timeout (tokens arrived)
            else:
                watchdog = loop.call_later((idle_ns - quiet_ns) / 1e9, check_idle)

        try:
            async for data in response.content.iter_any():
                last_ns = time.perf_counter_ns()
                self.stats.reads += 1
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if problem := self._line(line.rstrip(b"\r"), state, last_ns):
                        return problem
                if state.done:
                    if not closing:  # read the body's end, briefly
                        closing = True
                        deadline.reschedule(loop.time() + 2.0)
                        if watchdog is not None:
                            watchdog.cancel()
                            watchdog = None
                elif watchdog is None and state.token_times:  # the first token: now the idle deadline
                    deadline.reschedule(total_deadline)
                    watchdog = loop.call_later(self.timeouts.idle_s, check_idle)
            if pending.strip():
                return self._line(pending.rstrip(b"\r"), state, time.perf_counter_ns())
        finally:
            if watchdog is not None:
                watchdog.cancel()
            times = state.token_times
            self.stats.token_chunks += len(times)
            self.stats.coalesced += sum(1 for a, b in zip(times, times[1:], strict=False) if a == b)
        return None

    def _line(self, raw: bytes, state: StreamState, now_ns: int) -> tuple[ErrorClass, str] | None:
        if not raw or raw.startswith(b":") or state.done:
            return None
        line = raw.decode("utf-8", "replace")
        if line.startswith("data:"):
            return state.handle(line[5:].strip(), now_ns)
        if line.startswith(("event:", "id:", "retry:")):
            return None
        return ErrorClass.MALFORMED_STREAM, f"not an SSE line: {one_line(line, 80)!r}"
