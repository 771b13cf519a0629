"""Load from another host's processes through Ray (issue 21): a real two-node Ray cluster on this
machine (a head and a worker node, Ray's own test cluster), the load workers as actors spread over
its nodes, a sweep of two fleets through them that records and replays as any other; a cluster
that cannot be reached is one line.

The nodes listen on this machine's own address, not 127.0.0.1: Ray rewrites a loopback address to
the node's IP before it connects (ray._private.services.resolve_ip_for_localhost), so a cluster
bound to loopback cannot be joined. Nothing leaves the machine either way."""

import json
import subprocess
import sys

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'quanttui[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402


def quanttui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def two_nodes():
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


def test_two_fleets_loaded_by_actors_on_two_ray_nodes(tmp_path, sim_server, two_nodes):
    bf16 = [sim_server(model="qwen-bf16", ttft_ms=30, itl_ms=8) for _ in range(2)]
    awq = [sim_server(model="qwen-awq", ttft_ms=15, itl_ms=4) for _ in range(2)]
    done = quanttui(
        "sweep", "--endpoint", f"bf16={bf16[0].url},{bf16[1].url}", "--endpoint", f"awq={awq[0].url},{awq[1].url}",
        "--concurrency", "2,4", "--requests-per-step", "24", "--max-tokens", "8", "--ignore-eos",
        "--ray", two_nodes.address, "--load-workers", "2", "--out", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"2 Ray load workers (Ray at {two_nodes.address}:" in done.stderr
    assert "SIGTERM" not in done.stderr  # Ray's own warnings stay out of the progress lines
    summary = json.loads(done.stdout)
    assert all(v["errors"] == 0 and len(v["replicas"]) == 2 for v in summary["variants"])
    recording = tmp_path / "out" / "recording.jsonl"
    lines = recording.read_text().splitlines()
    sources = {json.loads(x)["source"] for x in lines[1:] if '"ClientSample"' in x}
    nodes = {s.split("(node ")[1].rstrip(")") for s in sources}
    assert len(sources) == 2 and len(nodes) == 2, sources  # one actor on each node, each said by name
    assert json.loads(lines[0])["config"]["ray_address"] == two_nodes.address
    results = [json.loads(x) for x in lines[1:] if '"RequestResult"' in x]
    # on a busy core a stream's chunks may all arrive in one read: then TTFT = E2E (the chunks coalesced)
    odd = [r for r in results if not (r["ok"] and 0 < r["ttft"] <= r["e2e"] and r["start"] < r["t"])]
    assert not odd, [(r["ok"], r["ttft"], r["e2e"], r["start"], r["t"], r["itl_us"]) for r in odd[:3]]
    replayed = quanttui("replay", str(recording), "--headless", "--json")
    assert replayed.returncode == 0 and json.loads(replayed.stdout) == summary


def test_a_ray_cluster_that_cannot_be_reached_is_one_line(tmp_path, sim_server, free_port):
    one, two = sim_server(model="a"), sim_server(model="b")
    done = quanttui("sweep", "--endpoint", f"bf16={one.url}", "--endpoint", f"awq={two.url}", "--concurrency", "1",
                    "--max-tokens", "4", "--ray", f"127.0.0.1:{free_port}", "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"Ray load workers could not start at 127.0.0.1:{free_port}" in done.stderr
    bad = quanttui("sweep", "--endpoint", f"bf16={one.url}", "--endpoint", f"awq={two.url}", "--concurrency", "1",
                   "--max-tokens", "4", "--ray", "10.0.0.1:6379", "--load-workers", "0", "--out", str(tmp_path / "o"))  # fmt: skip
    assert bad.returncode == 2 and "--ray with --load-workers 0" in bad.stderr
