"""One GPU is counted once however many sources read it; a remote GPU that stops being listed
drops out; whose memory is whose."""

from quanttui.core.events import EndpointInfo, GpuProcess, GpuSample, GpuUnavailable, SweepFinished
from quanttui.core.fold import SessionFold
from quanttui.core.gpu_usage import STALE_S, GpuUsage
from quanttui.core.loadplan import LoadPlan
from quanttui.core.summary import build_summary

UUID = "GPU-7b1c5e2a"


def gpu(t, source, used, *, host="", index=0, uuid=UUID, variant=None, processes=()):
    return GpuSample(t=t, index=index, name="NVIDIA L4", mem_total_mib=22500, mem_used_mib=used, util_pct=None,
                     power_w=None, processes=processes, source=source, host=host, uuid=uuid, variant=variant)  # fmt: skip


def test_a_gpu_read_by_nvml_dcgm_and_prometheus_counts_once_and_nvml_wins():
    usage = GpuUsage()
    usage.apply(gpu(1.0, "nvml", 9000, processes=(GpuProcess(11, 8000.0),)))
    usage.apply(gpu(1.1, "dcgm", 9000, host="gpu-a", variant="awq"))
    usage.apply(gpu(1.2, "prometheus", 9000, host="gpu-a", variant="awq"))
    assert len(usage.current()) == 1 and usage.total_mib == 22500
    assert usage.variant_mib("awq", pids=(11,)) == 8000.0  # its process, not the whole GPU three times
    usage.forget("")  # NVML went quiet: the remote reading now stands
    usage.apply(gpu(2.0, "dcgm", 9100, host="gpu-a", variant="awq"))
    assert usage.variant_mib("awq") == 9100.0


def test_a_remote_gpu_missing_from_its_sources_answers_drops_out():
    usage = GpuUsage()
    usage.apply(gpu(1.0, "dcgm", 9000, host="gpu-a", index=0, uuid="GPU-a", variant="awq"))
    usage.apply(gpu(1.0, "dcgm", 1000, host="gpu-a", index=1, uuid="GPU-b", variant="awq"))
    assert usage.variant_mib("awq") == 10000.0
    usage.apply(gpu(1.0 + STALE_S + 1, "dcgm", 9000, host="gpu-a", index=0, uuid="GPU-a", variant="awq"))
    assert usage.variant_mib("awq") == 9000.0  # GPU-b was not in the latest answers


def test_the_summary_says_a_gpu_source_answered_and_which_did_not():
    fold = SessionFold(LoadPlan(concurrencies=(1,), requests_per_step=8))
    fold.apply(EndpointInfo(t=0.0, variant="awq", url="http://x", model="m", precision="awq"))
    fold.apply(GpuUnavailable(t=0.1, reason="NVML unavailable: no GPU found"))
    fold.apply(gpu(1.0, "dcgm", 9000, host="gpu-a", variant="awq"))
    fold.apply(GpuUnavailable(t=2.0, reason="DCGM exporter gpu-b (http://b/metrics): HTTP 500", host="gpu-b"))
    fold.apply(SweepFinished(t=3.0, reason="completed"))
    summary = build_summary({}, fold)["gpu"]
    assert summary["available"] is True  # gpu-a answered and did not fail
    assert (
        summary["reason"]
        == "NVML unavailable: no GPU found; DCGM exporter gpu-b (http://b/metrics): HTTP 500"
    )
    fold.apply(GpuUnavailable(t=4.0, reason="DCGM exporter gpu-a (http://a/metrics): HTTP 500", host="gpu-a"))
    assert build_summary({}, fold)["gpu"]["available"] is False
