"""The memory-bandwidth probe (256 MiB for a moment) runs once per host; later sessions read it."""

import json

from quanttui.io.hardware import memory_bandwidth


def test_the_copy_bandwidth_is_measured_once_per_host_then_read(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no GPU here: NVML gives nothing
    first, source = memory_bandwidth(None)
    assert first and first > 0 and source == "measured: single-thread memory copy (no GPU)"
    cache = tmp_path / "quanttui" / "host-bandwidth.json"
    ((key, value),) = json.loads(cache.read_text()).items()
    assert value == first
    cache.write_text(json.dumps({key: 12.5}))  # what a later session finds: no new measurement
    assert memory_bandwidth(None) == (
        12.5,
        "measured: single-thread memory copy (no GPU; measured once on this host)",
    )
    cache.write_text(json.dumps({"another host": 12.5}))
    assert memory_bandwidth(None)[1] == "measured: single-thread memory copy (no GPU)"
    assert memory_bandwidth(99.0) == (99.0, "configured")
