"""The streaming client against real HTTP servers on 127.0.0.1: timing ground truth and every error class."""

import asyncio
import statistics
from pathlib import Path

import pytest

from quanttui.core.events import ErrorClass
from quanttui.io.openai_client import EndpointError, OpenAIStreamClient, RequestOptions, Timeouts
from quanttui.io.stream_outcome import ReadStats

DATA = Path(__file__).parents[1] / "data" / "vllm-sse"


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def one(url: str, text: str = "hello", timeouts: Timeouts | None = None, api_key=None, **options):
    opts = RequestOptions(**{"max_tokens": 8, "ignore_eos": True, **options})
    async with OpenAIStreamClient(url, "sim", api_key=api_key, timeouts=timeouts) as client:
        return await client.stream_chat(ask(text), opts)


async def test_timing_matches_the_server_ground_truth(sim_server):
    server = sim_server(ttft_ms=200, itl_ms=20)
    async with OpenAIStreamClient(server.url, "sim") as client:
        await client.list_models()  # open the connection before timing
        outcomes = [
            await client.stream_chat(ask("time me"), RequestOptions(max_tokens=20, ignore_eos=True))
            for _ in range(5)
        ]
    for out in outcomes:
        assert out.ok, out.error_detail
        assert out.output_tokens == 20 and not out.output_tokens_estimated
        assert out.finish_reason == "length"
        assert len(out.itl_us) == 19
    # Medians over the runs, with bounds a busy machine keeps (two CPU spinners: +20 ms seen): the
    # server's times are exact and the client can only see them late. Fidelity is bench/'s business.
    assert 0.195 <= statistics.median(o.ttft_s for o in outcomes) < 0.200 + 0.060
    assert statistics.median(g for o in outcomes for g in o.itl_us) / 1000 == pytest.approx(20.0, abs=5.0)
    assert 0.575 <= statistics.median(o.e2e_s for o in outcomes) < 0.200 + 19 * 0.020 + 0.080
    tpots = [(o.e2e_s - o.ttft_s) / (o.output_tokens - 1) for o in outcomes]
    assert statistics.median(tpots) == pytest.approx(0.020, abs=0.004)


async def test_list_models_and_unreachable_endpoint(sim_server, free_port):
    server = sim_server(model="tiny-awq")
    async with OpenAIStreamClient(server.url + "/v1", "") as client:
        assert await client.list_models() == ["tiny-awq"]
    async with OpenAIStreamClient(f"http://127.0.0.1:{free_port}", "") as client:
        with pytest.raises(EndpointError, match="unreachable"):
            await client.list_models()


async def test_connect_failure_is_a_counted_error_not_an_exception(free_port):
    out = await one(f"http://127.0.0.1:{free_port}")
    assert not out.ok and out.error == ErrorClass.CONNECT


@pytest.mark.parametrize(
    "fault,error,status,detail",
    [
        ("http_500", ErrorClass.HTTP_STATUS, 500, "HTTP 500"),
        ("http_503_html", ErrorClass.HTTP_STATUS, 503, "HTTP 503"),
        ("http_429", ErrorClass.HTTP_STATUS, 429, "Retry-After"),
        ("http_404", ErrorClass.HTTP_STATUS, 404, "HTTP 404"),
        ("non_json", ErrorClass.MALFORMED_STREAM, 200, "not JSON"),
        ("error_mid_stream", ErrorClass.STREAM_ERROR, 200, "error in stream"),
        ("no_done", ErrorClass.NO_DONE, 200, "[DONE]"),
        ("reset_mid_stream", ErrorClass.READ_ERROR, 200, ""),
        ("reset_before_headers", ErrorClass.CONNECT, None, ""),
    ],
)
async def test_faults_are_classified(sim_server, fault, error, status, detail):
    server = sim_server(ttft_ms=5, itl_ms=2)
    out = await one(server.url, f"please [[fault:{fault}]]", max_tokens=12)
    assert not out.ok
    assert out.error == error, out.error_detail
    assert out.http_status == status
    assert detail in out.error_detail
    assert "\n" not in out.error_detail


@pytest.mark.parametrize("fault", ["crlf", "keepalive_comments", "split_json"])
async def test_framing_variants_still_parse_exactly(sim_server, fault):
    server = sim_server(ttft_ms=5, itl_ms=2)
    out = await one(server.url, f"frame [[fault:{fault}]]", max_tokens=12)
    assert out.ok, out.error_detail
    assert out.output_tokens == 12 and len(out.itl_us) == 11 and not out.output_tokens_estimated


async def test_missing_usage_falls_back_to_counting_chunks_and_says_so(sim_server):
    server = sim_server(ttft_ms=5, itl_ms=2)
    out = await one(server.url, "count [[fault:no_usage]]", max_tokens=9)
    assert out.ok
    assert out.output_tokens == 9 and out.output_tokens_estimated


async def test_timeouts_by_phase(sim_server):
    server = sim_server(ttft_ms=5, itl_ms=2)
    first = await one(server.url, "[[fault:stall_after_headers:3]]", Timeouts(first_token_s=0.4))
    assert first.error == ErrorClass.TIMEOUT_FIRST_TOKEN
    idle = await one(server.url, "[[fault:stall_between_chunks:3]]", Timeouts(idle_s=0.4), max_tokens=10)
    assert idle.error == ErrorClass.TIMEOUT_IDLE
    assert idle.ttft_s is not None  # tokens arrived before the stall
    total = await one(server.url, "slow", Timeouts(total_s=0.3), max_tokens=400)
    assert total.error == ErrorClass.TIMEOUT_TOTAL


async def test_first_token_timeout_is_not_extended_by_keepalive_comments(sim_server):
    server = sim_server(ttft_ms=1500, itl_ms=2)
    out = await one(server.url, "wait [[fault:keepalive_comments]]", Timeouts(first_token_s=0.5))
    assert out.error == ErrorClass.TIMEOUT_FIRST_TOKEN


async def test_api_key_is_sent_as_bearer(sim_server, monkeypatch):
    monkeypatch.setenv("QT_TEST_KEY", "sk-secret-123")
    server = sim_server(api_key_env="QT_TEST_KEY", ttft_ms=5, itl_ms=2)
    denied = await one(server.url)
    assert denied.error == ErrorClass.HTTP_STATUS and denied.http_status == 401
    allowed = await one(server.url, api_key="sk-secret-123")
    assert allowed.ok


async def test_many_concurrent_streams_share_one_pool(sim_server):
    server = sim_server(ttft_ms=50, itl_ms=10, max_num_seqs=64)
    async with OpenAIStreamClient(server.url, "sim", concurrency=32) as client:
        outs = await asyncio.gather(
            *(
                client.stream_chat(ask(f"p{i}"), RequestOptions(max_tokens=10, ignore_eos=True))
                for i in range(32)
            )
        )
    assert all(o.ok for o in outs)
    assert sum(o.output_tokens for o in outs) == 320


# --- real vLLM bytes ------------------------------------------------------------------------------


async def _serve_bytes(body: bytes) -> tuple[asyncio.AbstractServer, int]:
    """Serve a captured vLLM SSE body verbatim, in HTTP/1.1 chunks of one event each, like uvicorn."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )
        for event in body.split(b"\n\n"):
            if event:
                piece = event + b"\n\n"
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(0.002)  # one event per network read, as from a real server
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    "capture,tokens,estimated,finish",
    [
        ("chat-stream-include-usage.sse", 6, False, "length"),
        ("chat-stream-include-usage-per-request-metrics.sse", 8, False, "length"),
        ("chat-stream-continuous-usage-per-request-metrics.sse", None, False, "length"),
        ("chat-stream-no-usage.sse", None, True, "length"),
    ],
)
async def test_real_vllm_captures_parse(capture, tokens, estimated, finish):
    body = (DATA / capture).read_bytes()
    server, port = await _serve_bytes(body)
    async with server:
        out = await one(f"http://127.0.0.1:{port}")
    assert out.ok, out.error_detail
    assert out.finish_reason == finish
    assert out.output_tokens_estimated is estimated
    # vLLM sends one chunk per token; the role-only opening chunk is not a token.
    assert out.token_chunks == out.output_tokens
    if tokens is not None:
        assert out.output_tokens == tokens
    assert len(out.itl_us) == out.token_chunks - 1


async def test_invalid_utf8_and_a_10_mb_answer_are_handled(sim_server):
    server = sim_server(ttft_ms=5, itl_ms=2)
    broken = await one(server.url, "bytes [[fault:invalid_utf8]]", max_tokens=6)
    assert broken.ok and "\ufffd" in broken.text  # bad bytes become U+FFFD; the stream goes on
    huge = await one(server.url, "long [[fault:huge_output:10]]", max_tokens=8, timeouts=Timeouts(idle_s=60))
    assert huge.ok, huge.error_detail
    assert len(huge.text) >= 10 * 10**6 - 1  # every byte read and kept for the triage


async def test_events_read_together_share_a_stamp_and_are_counted_as_coalesced():
    """A server (or a late reader) that delivers every event in one read: the client cannot tell
    their gaps apart, so it stamps them alike and says how many it could not resolve."""
    body = (DATA / "chat-stream-include-usage.sse").read_bytes()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        stats = ReadStats()
        async with OpenAIStreamClient(f"http://127.0.0.1:{port}", "sim", stats=stats) as client:
            out = await client.stream_chat(ask("all at once"), RequestOptions(max_tokens=8))
    assert out.ok, out.error_detail
    assert out.token_chunks == 6 and set(out.itl_us) == {0}
    assert stats.token_chunks == 6 and stats.coalesced == 5 and stats.in_flight == 0


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_once_on_a_new_one():
    """uvicorn closes idle keep-alive connections after 5 s; one that closes as it is reused must
    not count as the server failing the request (seen on real vLLM between two steps)."""
    body = (DATA / "chat-stream-include-usage.sse").read_bytes()
    connections = []

    async def request(reader: asyncio.StreamReader) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        if len(connections) == 1:  # the next request arrives as the server closes the connection
            await request(reader)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, OpenAIStreamClient(f"http://127.0.0.1:{port}", "sim") as client:
        first = await client.stream_chat(ask("one"), RequestOptions(max_tokens=8))
        second = await client.stream_chat(ask("two"), RequestOptions(max_tokens=8))
    assert first.ok and second.ok, (first.error_detail, second.error_detail)
    assert len(connections) == 2


async def test_profiling_an_engine_whose_profiler_is_off_names_the_flag(sim_server, tmp_path):
    from quanttui.io.profile_capture import ProfileError, ProfileRequest, capture_profile

    server = sim_server()
    with pytest.raises(ProfileError, match="profiler is off .*--profiler-config"):
        await capture_profile(server.url, "sim", tmp_path, "quanttui-sim", ProfileRequest(tokens=4))
    with pytest.raises(ProfileError, match="not a folder"):
        await capture_profile(
            server.url, "sim", tmp_path / "missing", "quanttui-sim", ProfileRequest(tokens=4)
        )
    with pytest.raises(ProfileError, match="profile prefix"):
        await capture_profile(server.url, "sim", tmp_path, "-bad", ProfileRequest(tokens=4))
