"""A session file's attached variants and fleets (issue 21): `urls` and `balance`, the shipped
fleet example, and every mistake named by file, line and field."""

from pathlib import Path

import pytest

from quanttui.cli.run import attached_endpoints
from quanttui.io.config import ConfigError, load_config

FLEET = """[load]
concurrency = [1, 2]

[variants.bf16]
urls = ["http://10.0.0.7:8000", "http://10.0.0.8:8000/v1"]
precision = "bf16"

[variants.awq]
urls = ["http://10.0.0.9:8000"]
balance = "least-outstanding"
model = "qwen-awq"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path


def test_attached_variants_and_a_fleet(tmp_path):
    session = load_config(write(tmp_path, FLEET))
    bf16, awq = session.variants
    assert bf16.urls == ("http://10.0.0.7:8000", "http://10.0.0.8:8000/v1") and bf16.balance == "round-robin"
    specs = attached_endpoints(session.variants)
    assert [(s.name, s.url, s.model, s.replicas, s.balance) for s in specs] == [
        ("bf16", "http://10.0.0.7:8000", None, ("http://10.0.0.7:8000", "http://10.0.0.8:8000/v1"), "round-robin"),
        ("awq", "http://10.0.0.9:8000", "qwen-awq", (), "least-outstanding"),  # one URL: not a fleet
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [('urls = ["http://10.0.0.9:8000"]', 'urls = ["http://10.0.0.9:8000", "http://10.0.0.9:8000/"]',
      "fleet.toml:9: field 'variants.awq.urls': http://10.0.0.9:8000 is given twice"),
     ('urls = ["http://10.0.0.9:8000"]', "urls = []", "field 'variants.awq.urls': expected a list of one or more URLs"),
     ('urls = ["http://10.0.0.9:8000"]', 'urls = ["10.0.0.9:8000"]', "field 'variants.awq.urls': '10.0.0.9:8000' is not"),
     ('balance = "least-outstanding"', 'balance = "random"',
      "fleet.toml:10: field 'variants.awq.balance': 'random' is not one of round-robin, least-outstanding"),
     ('model = "qwen-awq"', 'model = "qwen-awq"\nport = 8002',
      "field 'variants.awq.port': not used by an attached variant (urls): it is not launched here"),
     ('urls = ["http://10.0.0.9:8000"]\nbalance = "least-outstanding"\nmodel = "qwen-awq"',
      'model = "/models/awq"\nbalance = "round-robin"', "field 'variants.awq.balance': needs urls"),
     ('urls = ["http://10.0.0.9:8000"]\nbalance = "least-outstanding"\nmodel = "qwen-awq"', 'model = "/models/awq"',
      "field 'variants.awq.model': a launched variant beside attached ones (bf16)")],
)  # fmt: skip
def test_fleet_mistakes_name_file_line_and_field(tmp_path, old, new, words):
    assert old in FLEET
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, FLEET.replace(old, new)))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_the_shipped_fleet_example_loads():
    path = Path(__file__).parents[2] / "examples" / "fleet-qwen2.5-1.5b-k8s.toml"
    session = load_config(path)
    assert [(v.name, len(v.urls), v.balance) for v in session.variants] == [
        ("bf16", 2, "least-outstanding"), ("awq", 2, "least-outstanding")]  # fmt: skip
    telemetry = session.telemetry
    assert telemetry["prometheus"].startswith("http://") and set(telemetry["engines"]) == {"bf16", "awq"}
    assert telemetry["gpu_map"] == ["bf16=pod~qwen-bf16-.*", "awq=pod~qwen-awq-.*"]
