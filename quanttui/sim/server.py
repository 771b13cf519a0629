"""A simulated vLLM 0.32 OpenAI-compatible server: real HTTP, paced tokens, real /metrics, faults.

Tests, benchmarks and the no-engine demo run it as a child process
(`python -m quanttui.sim.server --port 0 ...` prints `LISTENING <port>`; see `quanttui.sim.process`).
Bytes follow the captures in /work/shared/fixtures (vllm-sse, vllm-http, vllm-metrics).

Routes: `GET /health` (200, empty), `GET /version`, `GET /v1/models`, `GET /metrics` (prometheus_client
exposition of vLLM's names), `POST /v1/chat/completions` (stream or not), `POST /tokenize`
(with `--tokenize words`: the simulator's word count as token ids). Unknown path: 404
`{"detail":"Not Found"}`; unknown model: vLLM's 404 NotFoundError. With an API key, paths under
/v1 (also /v2, /inference, /cohere, like vLLM) need `Authorization: Bearer KEY`, else 401
`{"error":"Unauthorized"}`; /health, /metrics and /version stay open.

Faults are chosen per request by `[[fault:NAME]]` or `[[fault:NAME:ARG]]` in the last user message,
or for every request by `--fault NAME[:ARG]` (`SimConfig.fault`); a directive wins, and
`[[fault:none]]` turns the server default off. "The 3rd token" = the third token chunk.

| fault                | effect on the wire                                                              |
|----------------------|---------------------------------------------------------------------------------|
| none                 | a normal response                                                               |
| http_500             | 500, JSON `{"error":{..."type":"InternalServerError","code":500}}`; nothing run |
| http_503             | 503, JSON ServiceUnavailableError (vLLM's admission rejection)                  |
| http_503_html        | 503 as a proxy sends it: `server: nginx`, `content-type: text/html`, HTML body  |
| http_429             | 429, JSON TooManyRequestsError, `retry-after: ARG` (default 1)                  |
| http_404             | 404 `{"detail":"Not Found"}`, as for a wrong path                               |
| echo_auth            | 401 quoting the Authorization header it got, as LiteLLM-style proxies do        |
| reset_before_headers | TCP RST once the request is read: no response byte at all                       |
| stall_after_headers  | stream: headers, then nothing for ARG s (default 10), then the normal stream;   |
|                      | non-stream: the response comes ARG s late                                       |
| stall_between_chunks | an extra ARG s (default 10) gap after the 3rd token (holds its running slot)    |
| non_json             | a `data: not json` event after the 3rd token; the stream then goes on           |
| error_mid_stream     | after the 3rd token: `data: {"error": {..., "code": 500}}` (json.dumps spacing, |
|                      | as vLLM's create_streaming_error_response) then `data: [DONE]`, like vLLM       |
| no_done              | the body ends (chunked terminator) after the usage/finish chunk, no `[DONE]`    |
| reset_mid_stream     | TCP RST 50 ms after the 3rd token (the tokens reach the client first)           |
| crlf                 | every SSE line ends in `\\r\\n` (`data: {...}\\r\\n\\r\\n`)                          |
| keepalive_comments   | a `: ping` comment event before every data event but the first, and one every   |
|                      | ARG s (default 0.1) of silence (queue, prefill, stalls) from the headers on     |
| split_json           | each event is written as 3 HTTP chunks with a drain and a 1 ms sleep between    |
| no_usage             | no usage chunk although include_usage; system_fingerprint on the finish chunk   |
| invalid_utf8         | the 3rd token's content is the raw bytes `\\xff\\xfe` (not UTF-8)                 |
| huge_output          | ARG MiB (default 1) of text in 64 KiB token chunks (one counted token each,     |
|                      | paced by the ITL), finish_reason "length"; max_tokens is ignored                |

Stream-only faults (non_json ... invalid_utf8) do nothing to `"stream": false` requests; mid-stream
faults need at least 3 tokens (stall_between_chunks: 4).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST

from quanttui.sim import shapes
from quanttui.sim.answers import Answer, answer_for
from quanttui.sim.chat import ChatRequest, InvalidRequest, parse_chat, plan_output
from quanttui.sim.engine import VLLM_VERSION, Engine, SimConfig, SimRequest, token_text
from quanttui.sim.faults import Fault, FaultError, find_directive, parse_fault
from quanttui.sim.httpwire import MAX_HEAD_BYTES, BadRequest, ClientGone, Connection, Request, read_request
from quanttui.sim.sendlog import RequestTrace, SendLog
from quanttui.sim.sse import SseWriter

log = logging.getLogger("quanttui.sim")

FAULT_AFTER_TOKEN = 3  # mid-stream faults act after this many token chunks
HUGE_CHUNK_CHARS = 64 * 1024
_PROTECTED_PREFIXES = ("/v1", "/v2", "/inference", "/cohere")
_HTTP_FAULTS: dict[str, tuple[int, str, str]] = {  # name -> status, error type, message
    "http_500": (500, "InternalServerError", "Simulated internal server error"),
    "http_503": (503, "ServiceUnavailableError", "Simulated overload: the request queue is full"),
    "http_429": (429, "TooManyRequestsError", "Simulated rate limit"),
}

Handler = Callable[[Connection, Request], Awaitable[None]]


class SimHTTPServer:
    """One simulated vLLM server on an asyncio loop (in-process; the CLI wraps it)."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.engine = Engine(config)
        self.default_fault = parse_fault(config.fault)
        self.fingerprint = shapes.fingerprint(config.model, VLLM_VERSION)
        self.started_at = int(time.time())
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._routes: dict[str, tuple[str, Handler]] = {
            "/health": ("GET", self._health),
            "/version": ("GET", self._version),
            "/metrics": ("GET", self._metrics),
            "/v1/models": ("GET", self._models),
            "/v1/chat/completions": ("POST", self._chat),
            "/tokenize": ("POST", self._tokenize),
        }
        if config.tokenize != "words":  # without it the triage knows the engine cannot be scored
            del self._routes["/tokenize"]
        if config.metrics == "none":
            del self._routes["/metrics"]
        self.send_log = SendLog(config.send_log) if config.send_log else None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._connection, host, port, limit=MAX_HEAD_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self.send_log is not None:
            self.send_log.write()

    # -- connections ----------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Connection(reader, writer)
        try:
            await self._serve_requests(conn)
        except (ClientGone, ConnectionError):
            pass
        except Exception:
            log.exception("sim server: unexpected error")
        finally:
            self._tasks.discard(task)
            await conn.close()

    async def _serve_requests(self, conn: Connection) -> None:
        """Keep-alive loop: one request after another until close, idle timeout or a fault."""
        while not conn.writer.is_closing():
            try:
                request = await asyncio.wait_for(
                    read_request(conn.reader, conn.writer), self.config.keepalive_timeout_s
                )
            except TimeoutError:
                return
            except BadRequest as exc:
                conn.close_after_response = True
                await conn.respond(400, f"Invalid HTTP request received: {exc}".encode(), "text/plain")
                return
            if request is None:
                return
            conn.close_after_response = not request.keep_alive
            await self._dispatch(conn, request)
            if conn.close_after_response:
                return

    async def _dispatch(self, conn: Connection, request: Request) -> None:
        if not self._authorized(request):
            await conn.respond_json(401, {"error": "Unauthorized"})
            return
        route = self._routes.get(request.path)
        if route is None:
            await conn.respond_json(404, {"detail": "Not Found"})
        elif request.method != route[0]:
            await conn.respond_json(405, {"detail": "Method Not Allowed"}, extra=[("allow", route[0])])
        else:
            await route[1](conn, request)

    def _authorized(self, request: Request) -> bool:
        key = self.config.api_key
        if not key or request.method == "OPTIONS" or not request.path.startswith(_PROTECTED_PREFIXES):
            return True
        return secrets.compare_digest(request.headers.get("authorization", ""), f"Bearer {key}")

    # -- simple routes --------------------------------------------------------------------------
    async def _health(self, conn: Connection, request: Request) -> None:
        await conn.respond(200, b"", content_type=None)

    async def _version(self, conn: Connection, request: Request) -> None:
        await conn.respond_json(200, {"version": VLLM_VERSION})

    async def _models(self, conn: Connection, request: Request) -> None:
        body = shapes.models_body(self.config.model, self.config.max_model_len, self.started_at)
        await conn.respond_json(200, body)

    async def _tokenize(self, conn: Connection, request: Request) -> None:
        """vLLM's /tokenize with `messages` (or `prompt`): the simulator's own count (one token per
        whitespace-separated word of the messages' text, as its usage counts), ids 0..n-1."""
        try:
            body = json.loads(request.body)
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if "messages" in body:
                messages = body["messages"]
                if not isinstance(messages, list):
                    raise ValueError("messages must be a list")
                text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
            else:
                text = str(body.get("prompt", ""))
        except (ValueError, UnicodeDecodeError) as exc:
            await conn.respond_json(400, shapes.error_body(str(exc), "BadRequestError", 400))
            return
        count = max(1, len(text.split()))
        await conn.respond_json(
            200, {"count": count, "max_model_len": self.config.max_model_len, "tokens": list(range(count))}
        )

    async def _metrics(self, conn: Connection, request: Request) -> None:
        await conn.respond(200, self.engine.metrics.exposition(), CONTENT_TYPE_LATEST)

    # -- chat completions -----------------------------------------------------------------------
    async def _chat(self, conn: Connection, request: Request) -> None:
        arrival = asyncio.get_running_loop().time()
        trace = self.send_log.start() if self.send_log is not None else None
        try:
            chat = parse_chat(request.body, self.config.model)
            if chat.model != self.config.model:
                message = f"The model `{chat.model}` does not exist. Valid aliases: {self.config.model}."
                await conn.respond_json(404, shapes.error_body(message, "NotFoundError", 404, "model"))
                return
            answer = self._answer(chat)
            n_tokens, finish_reason = plan_output(
                chat, self.config, None if answer is None else answer.eos_after
            )
            directive = find_directive(chat.last_user_text)
        except (InvalidRequest, FaultError) as exc:
            await conn.respond_json(400, shapes.error_body(str(exc), "BadRequestError", 400))
            return
        fault = directive or self.default_fault
        if await self._pre_response_fault(conn, fault, request):
            return
        if fault.is_("huge_output"):
            n_tokens, finish_reason = max(1, math.ceil(fault.value * 2**20 / HUGE_CHUNK_CHARS)), "length"
        req = SimRequest(prompt_tokens=chat.prompt_tokens, arrival=arrival)
        if chat.stream:
            await self._stream(conn, chat, fault, req, n_tokens, finish_reason, trace)
        else:
            await self._complete(conn, chat, fault, req, n_tokens, finish_reason)

    async def _pre_response_fault(self, conn: Connection, fault: Fault, request: Request) -> bool:
        """Faults that replace the whole response; True if one did."""
        if fault.is_("echo_auth"):  # as LiteLLM-style proxies answer a key they do not accept
            received = request.headers.get("authorization", "")
            message = f"Authentication Error, Received API Key = {received}, Key Hash (Token) = 0f3a"
            await conn.respond_json(401, {"error": {"message": message, "type": "auth_error", "code": "401"}})
        elif fault.name in _HTTP_FAULTS:
            status, err_type, message = _HTTP_FAULTS[fault.name]
            extra = [("retry-after", f"{fault.value:g}")] if fault.is_("http_429") else None
            await conn.respond_json(status, shapes.error_body(message, err_type, status), extra)
        elif fault.is_("http_503_html"):
            await conn.respond(503, shapes.HTML_503, "text/html", server="nginx")
        elif fault.is_("http_404"):
            await conn.respond_json(404, {"detail": "Not Found"})
        elif fault.is_("reset_before_headers"):
            conn.reset()
        else:
            return False
        return True

    def _answer(self, chat: ChatRequest) -> Answer | None:
        """The answer book's answer (`answers="book"`; cached per prompt), else None: a word cycle."""
        if self.config.answers != "book":
            return None
        return answer_for(self.config.model, chat.last_user_text, self.config.drift)

    def _token_texts(self, chat: ChatRequest, fault: Fault) -> Callable[[int], str]:
        seed_text = f"{chat.seed}|{chat.prompt_text}"
        answer = self._answer(chat)
        if answer is not None and not fault.is_("huge_output"):
            return lambda i: answer.token(i) or token_text(seed_text, i)  # past its end: ignore_eos
        if not fault.is_("huge_output"):
            return lambda i: token_text(seed_text, i)
        words = "".join(token_text(seed_text, i) for i in range(64))
        block = (words * (HUGE_CHUNK_CHARS // len(words) + 1))[:HUGE_CHUNK_CHARS]
        return lambda i: block

    @staticmethod
    def _extra_delay(fault: Fault, index: int) -> float:
        if index == 0 and fault.is_("stall_after_headers"):
            return fault.value
        if index == FAULT_AFTER_TOKEN and fault.is_("stall_between_chunks"):
            return fault.value
        return 0.0

    async def _stream(
        self,
        conn: Connection,
        chat: ChatRequest,
        fault: Fault,
        req: SimRequest,
        n_tokens: int,
        finish: str,
        trace: RequestTrace | None = None,
    ) -> None:
        await conn.start_chunked(200, "text/event-stream; charset=utf-8")
        sse = SseWriter(conn, fault, trace)
        try:
            await self._stream_events(conn, sse, chat, fault, req, n_tokens, finish)
        finally:
            sse.stop_pings()
            if trace is not None:
                trace.end_ns, trace.finish = time.perf_counter_ns(), req.finished

    async def _stream_events(
        self,
        conn: Connection,
        sse: SseWriter,
        chat: ChatRequest,
        fault: Fault,
        req: SimRequest,
        n_tokens: int,
        finish: str,
    ) -> None:
        completion = shapes.Completion(self.config.model, self.fingerprint)
        text_of = self._token_texts(chat, fault)
        usage = chat.include_usage and not fault.is_("no_usage")
        async with self.engine.admitted(req, lambda: conn.gone):
            for i in range(n_tokens):
                await self.engine.next_token(req, lambda: conn.gone, self._extra_delay(fault, i))
                if i == 0:
                    await sse.event(completion.role_chunk())
                last = i == n_tokens - 1
                reason, with_fp = (finish, not usage) if last else (None, False)
                if i == FAULT_AFTER_TOKEN - 1 and fault.is_("invalid_utf8"):
                    await sse.event(completion.invalid_utf8_chunk(reason, with_fp), req.last_due)
                else:
                    await sse.event(completion.token_chunk(text_of(i), reason, with_fp), req.last_due)
                if i == FAULT_AFTER_TOKEN - 1 and await self._mid_stream_fault(conn, sse, fault, req):
                    return
            self.engine.finish(req, finish)
        if usage:
            await sse.event(completion.usage_chunk(req.prompt_tokens, req.generated))
        if not fault.is_("no_done"):
            await sse.event(b"[DONE]")
        sse.stop_pings()
        await conn.end_chunked()

    async def _mid_stream_fault(
        self, conn: Connection, sse: SseWriter, fault: Fault, req: SimRequest
    ) -> bool:
        """Faults acting right after the 3rd token; True if the stream ends here."""
        if fault.is_("non_json"):
            await sse.event(b"not json")
        elif fault.is_("error_mid_stream"):
            self.engine.finish(req, "error")
            await sse.event(shapes.stream_error_event("Simulated engine error in the middle of the stream"))
            await sse.event(b"[DONE]")
            sse.stop_pings()
            await conn.end_chunked()
            return True
        elif fault.is_("reset_mid_stream"):
            await asyncio.sleep(0.05)
            conn.reset()
            return True
        return False

    async def _complete(
        self, conn: Connection, chat: ChatRequest, fault: Fault, req: SimRequest, n_tokens: int, finish: str
    ) -> None:
        text_of = self._token_texts(chat, fault)
        parts: list[str] = []
        async with self.engine.admitted(req, lambda: conn.gone):
            for i in range(n_tokens):
                await self.engine.next_token(req, lambda: conn.gone, self._extra_delay(fault, i))
                parts.append(text_of(i))
            self.engine.finish(req, finish)
        completion = shapes.Completion(self.config.model, self.fingerprint)
        body = completion.full_response("".join(parts), finish, req.prompt_tokens, req.generated)
        await conn.respond(200, body)


if __name__ == "__main__":
    from quanttui.sim.cli import run

    run()
