"""GPU telemetry through a real Prometheus server (Debian's package) scraping a DCGM-format
exporter: the same GPUs, labels and map as reading the exporter directly, a selector narrows
them, and a server that cannot be queried is said once."""

import asyncio

import httpx
import pytest
from dcgm_exporter import DcgmExporter
from prometheus_server import PROMETHEUS, PrometheusServer

from quanttui.core.clock import SessionClock
from quanttui.core.events import PROMETHEUS as PROMETHEUS_HOST
from quanttui.core.events import GpuUnavailable
from quanttui.core.gpu_map import parse_gpu_match
from quanttui.io.dcgm import DcgmSampler
from quanttui.io.prometheus_gpu import PrometheusGpuSource

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is not installed (apt-get install -y prometheus)"
)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    exporter = DcgmExporter().start()
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), [exporter.url.removeprefix("http://")])
    try:
        server.wait_for("DCGM_FI_DEV_FB_USED")
        yield exporter, server
    finally:
        server.stop()
        exporter.stop()


def read(source):
    async def once():
        async with httpx.AsyncClient(trust_env=False) as client:
            return await source.scrape(client)

    return asyncio.run(once())


def test_prometheus_gives_the_gpus_the_exporter_gives(scraped):
    exporter, server = scraped
    matches = [parse_gpu_match("awq=gpu-node-a:0"), parse_gpu_match("bf16=pod~bf16-.*")]
    events = []
    through = read(PrometheusGpuSource(server.url, matches, events.append, SessionClock()))
    direct = read(DcgmSampler("gpu-node-a", exporter.url, matches, events.append, SessionClock()))
    assert events == []
    assert [(s.host, s.index, s.uuid, s.variant, s.source) for s in through] == [
        ("gpu-node-a", 0, direct[0].uuid, "awq", "prometheus"), ("gpu-node-a", 1, direct[1].uuid, "bf16", "prometheus")]  # fmt: skip
    for a, b in zip(through, direct, strict=True):
        assert (a.mem_used_mib, a.mem_total_mib, a.util_pct, a.power_w, a.mem_copy_util_pct, a.sm_clock_mhz) == (
            b.mem_used_mib, b.mem_total_mib, b.util_pct, b.power_w, b.mem_copy_util_pct, b.sm_clock_mhz)  # fmt: skip
        assert dict(a.labels)["pod"] == dict(b.labels)["pod"] and "instance" in dict(a.labels)
    narrowed = read(PrometheusGpuSource(server.url, matches, events.append, SessionClock(),
                                        selector='pod=~"awq-.*"'))  # fmt: skip
    assert [s.variant for s in narrowed] == ["awq"]


def test_a_server_that_cannot_be_queried_is_said_once(scraped, free_port):
    _, server = scraped
    events = []
    down = PrometheusGpuSource(f"http://127.0.0.1:{free_port}", [], events.append, SessionClock())
    assert read(down) == [] and read(down) == []
    (event,) = events
    assert isinstance(event, GpuUnavailable) and event.host == PROMETHEUS_HOST
    assert event.reason.startswith(f"Prometheus (http://127.0.0.1:{free_port}/api/v1/query): unreachable")
    bad = PrometheusGpuSource(server.url, [], events.append, SessionClock(), selector="pod=~")
    assert read(bad) == []
    assert events[-1].reason.startswith(f"Prometheus ({server.url}/api/v1/query): HTTP 400: ")
    empty = PrometheusGpuSource(server.url, [], events.append, SessionClock(), selector='pod="nobody"')
    assert read(empty) == [] and "no DCGM series" in events[-1].reason
