"""GPU telemetry from a DCGM exporter: its page parsed by prometheus_client, each GPU mapped to a
variant, and an exporter that goes away said once, then back, over real HTTP."""

import asyncio

import httpx
import pytest
from dcgm_exporter import PAGE, DcgmExporter

from quanttui.core.clock import SessionClock
from quanttui.core.events import GpuSample, GpuUnavailable
from quanttui.core.gpu_map import GpuMapError, parse_gpu_match
from quanttui.io.dcgm import DcgmSampler, parse_dcgm

AWQ_UUID = "GPU-7b1c5e2a-3f4d-4a6b-9c1e-2d3f4a5b6c7d"


@pytest.fixture
def exporter():
    running = DcgmExporter().start()
    yield running
    running.stop()


def test_the_exporters_page_gives_each_gpu_with_its_labels():
    gpus = parse_dcgm(PAGE.read_text())
    assert [(g.index, g.uuid) for g in gpus] == [
        (0, AWQ_UUID),
        (1, "GPU-2a3b4c5d-6e7f-4809-a1b2-c3d4e5f60718"),
    ]
    first = gpus[0]
    assert first.values == {"used": 9000.0, "free": 13000.0, "reserved": 500.0, "util": 87.0, "mem_copy": 38.0,
                            "power": 71.5, "sm_clock": 1980.0, "mem_clock": 6251.0}  # fmt: skip
    assert first.labels == {"Hostname": "gpu-node-a", "modelName": "NVIDIA L4", "device": "nvidia0",
                            "pod": "awq-7d9f8b6c5-x2k4p", "container": "vllm", "namespace": "serving"}  # fmt: skip


def scrape(sampler: DcgmSampler) -> list[GpuSample]:
    async def once() -> list[GpuSample]:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await sampler.scrape(client)

    return asyncio.run(once())


def test_gpus_map_to_variants_by_host_and_index_uuid_or_labels(exporter):
    events = []
    by_host = [
        parse_gpu_match("bf16=gpu-a:1", ["gpu-a"]),
        parse_gpu_match(f"awq=gpu-a:{AWQ_UUID}", ["gpu-a"]),
    ]
    samples = scrape(DcgmSampler("gpu-a", exporter.url, by_host, events.append, SessionClock()))
    assert [(s.index, s.variant, s.host, s.source) for s in samples] == [(0, "awq", "gpu-a", "dcgm"),
                                                                      (1, "bf16", "gpu-a", "dcgm")]  # fmt: skip
    awq = samples[0]
    assert (awq.mem_used_mib, awq.mem_total_mib, awq.util_pct, awq.power_w) == (9000.0, 22500.0, 87.0, 71.5)
    assert (awq.mem_copy_util_pct, awq.sm_clock_mhz, awq.name) == (38.0, 1980.0, "NVIDIA L4")
    by_pod = [parse_gpu_match("awq=pod~awq-.*"), parse_gpu_match("bf16=pod~bf16-.*,namespace~serving")]
    samples = scrape(DcgmSampler("gpu-a", exporter.url + "/metrics", by_pod, events.append, SessionClock()))
    assert [s.variant for s in samples] == ["awq", "bf16"]
    assert [s.variant for s in scrape(DcgmSampler("gpu-a", exporter.url, [], events.append, SessionClock()))] == [
        None, None]  # no map: the GPUs are shown, nobody's  # fmt: skip
    assert events == []


def test_an_exporter_that_goes_away_is_said_once_and_comes_back(exporter):
    events = []
    sampler = DcgmSampler("gpu-a", exporter.url, [], events.append, SessionClock())
    assert len(scrape(sampler)) == 2
    exporter.status = 500
    assert scrape(sampler) == [] and scrape(sampler) == []
    (down,) = events
    assert isinstance(down, GpuUnavailable) and down.host == "gpu-a"
    assert down.reason == f"DCGM exporter gpu-a ({exporter.url}/metrics): HTTP 500"
    exporter.status = 200
    assert len(scrape(sampler)) == 2
    exporter.text = "garbage {"
    assert scrape(sampler) == []
    assert events[-1].reason.startswith(f"DCGM exporter gpu-a ({exporter.url}/metrics): not a Prometheus")
    exporter.stop()
    scrape(sampler)
    assert "unreachable" in events[-1].reason and len(events) == 3


@pytest.mark.parametrize(
    ("spec", "words"),
    [("awq", "expected VARIANT=HOST"), ("awq=gpu-b:0", "no exporter named 'gpu-b'"),
     ("awq=pod~(", "is not a regular expression"), ("awq=~x", "is not LABEL~REGEX"),
     ("awq=gpu-a:,", "no GPU after ':'"), ("awq=job~x", "no label 'job' to match"),
     ("awq=@prometheus:0", "is not a host name")],
)  # fmt: skip
def test_bad_map_entries_are_named(spec, words):
    with pytest.raises(GpuMapError, match=words):
        parse_gpu_match(spec, ["gpu-a"])


def test_a_comma_inside_an_expression_stays_and_a_missing_label_never_matches():
    match = parse_gpu_match("awq=pod~awq-[0-9]{1,3},namespace~serving")
    assert [name for name, _ in match.labels] == ["pod", "namespace"]
    assert match.matches("h", 0, "", {"pod": "awq-12", "namespace": "serving"})
    assert not parse_gpu_match("awq=container~.*").matches("h", 0, "", {"pod": "awq-12"})


def test_mig_instances_nan_and_hostile_labels_are_not_taken_as_they_are():
    hostile = "L4\x1b]0;pwned\x07"
    page = (
        'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-x",GPU_I_ID="1",GPU_I_PROFILE="1g.10gb",pod="awq"} 100\n'
        f'DCGM_FI_DEV_FB_USED{{gpu="1",UUID="GPU-y",modelName="{hostile}",pod="{"p" * 500}"}} NaN\n'
        'DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-y",modelName="L4",pod="b"} 7000\n'
    )
    (gpu,) = parse_dcgm(page)  # the MIG instance is left out
    assert gpu.index == 1 and "used" not in gpu.values and gpu.values["free"] == 7000.0  # NaN is no value
    assert len(gpu.labels["pod"]) == 120  # cut
    assert gpu.labels["modelName"] == "L4" and "\x1b" not in gpu.labels["modelName"]  # the escape dropped
