"""The panels of attached variants whose GPUs are read from DCGM exporters (issue 21)."""

from quanttui.core.events import EndpointInfo, GpuSample, GpuUnavailable
from quanttui.core.live import LiveState
from quanttui.core.loadplan import LoadPlan
from quanttui.ui.views import variant_view


def test_the_panels_show_an_attached_variants_gpu_from_the_exporter_and_forget_a_quiet_one():
    state = LiveState(LoadPlan(concurrencies=(1,), requests_per_step=8), ["bf16", "awq"])
    for name in ("bf16", "awq"):  # attached: no pids
        state.apply(EndpointInfo(t=0.0, variant=name, url="http://x", model="m", precision=name))
    for t, host, index, used, variant in ((1.0, "gpu-a", 0, 9000.0, "awq"), (1.0, "gpu-b", 0, 15000.0, "bf16"),
                                          (1.1, "gpu-a", 1, 1000.0, "awq")):  # fmt: skip
        state.apply(GpuSample(t=t, index=index, name="NVIDIA L4", mem_total_mib=22500, mem_used_mib=used,
                              util_pct=50.0, power_w=70.0, source="dcgm", host=host, variant=variant))  # fmt: skip
    assert variant_view(state, "awq").mem_text == "GPU 10,000 MiB · DCGM"  # both of its GPUs
    assert variant_view(state, "bf16").mem_text == "GPU 14.65 GiB · DCGM"
    state.apply(
        GpuUnavailable(t=2.0, reason="DCGM exporter gpu-a (http://x/metrics): HTTP 500", host="gpu-a")
    )
    assert state.variants["awq"].gpu_mem_mib is None  # gpu-a's numbers are no longer current
    assert variant_view(state, "bf16").mem_text == "GPU 14.65 GiB · DCGM"  # gpu-b's still are
    # a sample from another source does not hide that gpu-a is still down
    state.apply(GpuSample(t=3.0, index=0, name="NVIDIA L4", mem_total_mib=22500, mem_used_mib=15000, util_pct=50.0,
                          power_w=70.0, source="dcgm", host="gpu-b", variant="bf16"))  # fmt: skip
    assert state.gpu_unavailable == "DCGM exporter gpu-a (http://x/metrics): HTTP 500"
