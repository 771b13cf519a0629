"""Session config files: every key checked, errors name file, line and field."""

import json
from pathlib import Path

import pytest

from quanttui.io.config import ConfigError, load_config

GOOD = """
[load]
concurrency = [1, 2, 4]
requests_per_step = 16
max_tokens = 64

[variants.bf16]
model = "/models/qwen"
dtype = "bfloat16"
gpu_memory_utilization = 0.42
port = 8001
extra_args = ["--enforce-eager"]
env = { HF_HUB_OFFLINE = "1" }

[variants.awq]
model = "/models/qwen-awq"
quantization = "awq_marlin"
port = 8002
command = ["python", "-m", "vllm.entrypoints.openai.api_server"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "session.toml"
    path.write_text(text)
    return path


def test_a_good_file(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    bf16, awq = cfg.variants
    assert bf16.argv() == [
        "vllm", "serve", "/models/qwen", "--host", "127.0.0.1", "--port", "8001", "--served-model-name", "bf16",
        "--dtype", "bfloat16", "--gpu-memory-utilization", "0.42", "--enforce-eager",
    ]  # fmt: skip
    assert awq.argv()[:5] == [
        "python",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        "/models/qwen-awq",
    ]
    assert "--quantization" in awq.argv()
    assert bf16.url == "http://127.0.0.1:8001"
    assert cfg.load["concurrency"] == [1, 2, 4]
    assert "HF_HUB_OFFLINE" in bf16.public()["env_keys"] and "1" not in str(bf16.public()["env_keys"])


@pytest.mark.parametrize(
    "edit,needle",
    [
        (("port = 8001", "port = 80O1"), "not valid TOML"),
        (("port = 8001", 'port = "8001"'), ":11: field 'variants.bf16.port': expected a port number"),
        (("dtype = ", "dtpye = "), ":9: field 'variants.bf16.dtpye': unknown key"),
        (
            ("gpu_memory_utilization = 0.42", "gpu_memory_utilization = 1.5"),
            "field 'variants.bf16.gpu_memory_utilization': must be within (0, 1]",
        ),
        (("port = 8002", "port = 8001"), "8001 is used by another variant"),
        (("max_tokens = 64", "max_tokens = -1\nbogus = 2"), "field 'load.bogus': unknown key"),
        (('model = "/models/qwen-awq"', ""), "field 'variants.awq.model': missing"),
        (("[load]", "[lode]"), "field 'lode': unknown table"),
        (
            ("[load]", "[cost]\ngpu_usd_per_hour = 0\n[load]"),
            ":3: field 'cost.gpu_usd_per_hour': must be > 0",
        ),
        (("[load]", "[cost]\nusd = 1\n[load]"), "field 'cost.usd': unknown key"),
        (("[load]", "[cost]\nutilization = 1.5\n[load]"), "field 'cost.utilization': must be in (0, 1]"),
        (
            ("[load]", '[hardware]\nmemory_bandwidth_gbps = "fast"\n[load]'),
            "field 'hardware.memory_bandwidth_gbps': wrong type",
        ),
        (
            ("[variants.awq]", '[variants."../../../../victim"]'),
            "field 'variants.../../../../victim': variant name '../../../../victim' is not allowed (1-40 "
            "characters: letters, digits, '_', '-', '.', starting with a letter or digit)",
        ),
        (("[variants.awq]", '[variants."a b"]'), "variant name 'a b' is not allowed"),
        (
            ("max_tokens = 64", 'max_tokens = 64\nslo_metric = "p99"'),
            "field 'load.slo_metric': 'p99' is not one of",
        ),
        (("[variants.awq]", '[variants."x\\u001b]0;t\\u0007"]'), "is not allowed"),
        (
            (
                "[load]",
                "[variants.x]\nmodel='m'\nport=1\n[variants.y]\nmodel='m'\nport=2\n"
                "[variants.z]\nmodel='m'\nport=3\n[load]",
            ),
            "field 'variants': 5 variant(s): a comparison needs 2 to 4",
        ),
    ],
)
def test_bad_files_name_file_line_and_field(tmp_path, edit, needle):
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_cost_and_hardware_tables(tmp_path):
    text = (
        GOOD
        + "\n[cost]\ngpu_usd_per_hour = 0.85\ntokens_per_day = 2e7\n\n[hardware]\nmemory_bandwidth_gbps = 224\n"
    )
    cfg = load_config(write(tmp_path, text))
    assert cfg.cost == {"gpu_usd_per_hour": 0.85, "tokens_per_day": 2e7}
    assert cfg.hardware == {"memory_bandwidth_gbps": 224}


def test_no_variants_or_only_one(tmp_path):
    with pytest.raises(ConfigError, match="at least one"):
        load_config(write(tmp_path, "[load]\nmax_tokens = 4\n"))
    with pytest.raises(ConfigError, match="1 variant\\(s\\): a comparison needs 2 to 4"):
        load_config(write(tmp_path, GOOD.split("[variants.awq]")[0]))


def test_the_shipped_gpu_example_loads():
    path = Path(__file__).parents[2] / "examples" / "rtx2000ada-qwen2.5-1.5b.toml"
    cfg = load_config(path)
    bf16, awq = cfg.variants
    assert bf16.gpu_memory_utilization + awq.gpu_memory_utilization <= 0.9
    assert awq.argv()[:3] == ["vllm", "serve", "Qwen/Qwen2.5-1.5B-Instruct-AWQ"]
    assert "awq_marlin" in awq.argv()
    for variant in (bf16, awq):  # the profiler on, CUDA activities, traces where `quanttui profile` looks
        flag = variant.argv().index("--profiler-config")
        profiler = json.loads(variant.argv()[flag + 1])
        assert profiler["profiler"] == "torch" and profiler["torch_profiler_activities"] == ["CPU", "CUDA"]
        assert profiler["torch_profiler_dir"] == f"/tmp/quanttui-profiler/{variant.name}"


def test_secrets_on_an_engine_command_line_never_reach_the_header():
    from quanttui.io.config import VariantConfig, redact_argv

    variant = VariantConfig(name="a", model="/m", served_name="a",
                            extra_args=("--api-key", "sk-1", "--hf-token=hf_2", "--max-num-seqs", "8"))  # fmt: skip
    public = variant.public()
    assert "sk-1" not in str(public) and "hf_2" not in str(public)
    assert public["argv"][-5:] == ["--api-key", "<redacted>", "--hf-token=<redacted>", "--max-num-seqs", "8"]
    assert variant.argv()[-5:-3] == ["--api-key", "sk-1"]  # the engine itself still gets it
    assert redact_argv(["--keyring-backend", "x"]) == ["--keyring-backend", "<redacted>"]  # better safe


def test_the_shipped_marlin_example_loads():
    path = Path(__file__).parents[2] / "examples" / "rtx2000ada-qwen2.5-1.5b-marlin.toml"
    cfg = load_config(path)
    assert [v.quantization for v in cfg.variants] == ["awq", "awq_marlin", "gptq", "gptq_marlin"]
    assert sum(v.gpu_memory_utilization for v in cfg.variants) <= 0.9 and cfg.cost["gpu_usd_per_hour"] > 0


GGUF = """
[variants.bf16]
model = "/models/qwen"

[variants.gguf]
engine = "llama-cpp"
model = "/models/qwen-q4_k_m.gguf"
max_model_len = 4096
port = 8003
extra_args = ["--n_threads", "4"]
"""


def test_a_llama_cpp_variant_gets_its_own_command_line_and_health_route(tmp_path):
    bf16, gguf = load_config(write(tmp_path, GGUF)).variants
    assert (bf16.engine, bf16.health_path) == ("vllm", "/health")
    assert gguf.engine == "llama-cpp" and gguf.health_path == "/v1/models"
    assert gguf.argv() == [
        "python3", "-m", "llama_cpp.server", "--model", "/models/qwen-q4_k_m.gguf", "--host", "127.0.0.1",
        "--port", "8003", "--model_alias", "gguf", "--n_ctx", "4096", "--n_threads", "4",
    ]  # fmt: skip
    assert gguf.public()["engine"] == "llama-cpp"


@pytest.mark.parametrize(
    "edit,needle",
    [
        (('engine = "llama-cpp"', 'engine = "tgi"'), ":6: field 'variants.gguf.engine': expected one of"),
        (
            ("port = 8003", "port = 8003\nquantization = 'awq'"),
            "field 'variants.gguf.quantization': not used by",
        ),
        (
            ("port = 8003", "port = 8003\ngpu_memory_utilization = 0.3"),
            "'variants.gguf.gpu_memory_utilization'",
        ),
    ],
)
def test_llama_cpp_variants_refuse_vllm_settings(tmp_path, edit, needle):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GGUF.replace(*edit)))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_the_shipped_gguf_example_loads():
    path = Path(__file__).parents[2] / "examples" / "rtx2000ada-qwen2.5-1.5b-gguf.toml"
    bf16, awq, gguf = load_config(path).variants
    assert (bf16.engine, awq.engine, gguf.engine) == ("vllm", "vllm", "llama-cpp")
    assert gguf.argv()[:3] == ["python3", "-m", "llama_cpp.server"] and "--n_gpu_layers" in gguf.argv()
    assert bf16.gpu_memory_utilization + awq.gpu_memory_utilization <= 0.8  # room left for llama.cpp


def test_an_engine_listening_on_every_interface_is_warned_about(tmp_path):
    cfg = load_config(write(tmp_path, GOOD.replace("port = 8001", 'port = 8001\nhost = "0.0.0.0"')))
    bf16, awq = cfg.variants
    assert (
        "listens on every network interface" in bf16.exposure_warning and "127.0.0.1" in bf16.exposure_warning
    )
    assert awq.exposure_warning is None


TELEMETRY = """
[telemetry]
gpu_metrics = { gpu-a = "http://10.0.0.5:9400" }
gpu_map = ["awq=gpu-a:0,1", "bf16=pod~bf16-.*"]
"""


def test_a_telemetry_table_and_its_errors_name_the_line(tmp_path):
    cfg = load_config(write(tmp_path, GOOD + TELEMETRY))
    assert cfg.telemetry["gpu_metrics"] == {"gpu-a": "http://10.0.0.5:9400"}
    assert cfg.telemetry["gpu_map"] == ["awq=gpu-a:0,1", "bf16=pod~bf16-.*"]
    line = (GOOD + TELEMETRY).splitlines().index('gpu_map = ["awq=gpu-a:0,1", "bf16=pod~bf16-.*"]') + 1
    for bad, words in (
        ('"awq=gpu-z:0"', "field 'telemetry.gpu_map': 'awq=gpu-z:0': no exporter named 'gpu-z'"),
        ('"int8=gpu-a:0"', "field 'telemetry.gpu_map': 'int8=gpu-a:0': no variant named 'int8'"),
        ('"awq=pod~("', "is not a regular expression"),
    ):
        text = (GOOD + TELEMETRY).replace('"bf16=pod~bf16-.*"', bad)
        with pytest.raises(ConfigError) as exc:
            load_config(write(tmp_path, text))
        assert str(exc.value).startswith(f"{tmp_path / 'session.toml'}:{line}: ") and words in str(exc.value)
    with pytest.raises(
        ConfigError, match="field 'telemetry.gpu_metrics': gpu-a: '10.0.0.5:9400' is not an http"
    ):
        load_config(write(tmp_path, GOOD + TELEMETRY.replace("http://10.0.0.5:9400", "10.0.0.5:9400")))
    with pytest.raises(ConfigError, match="field 'telemetry.engines': needs prometheus"):
        load_config(write(tmp_path, GOOD + TELEMETRY + "engines = { awq = 'job=\"awq\"' }\n"))
    with_prometheus = TELEMETRY + 'prometheus = "http://prom:9090"\nengines = { awq = \'job="awq"\' }\n'
    assert load_config(write(tmp_path, GOOD + with_prometheus)).telemetry["engines"] == {"awq": 'job="awq"'}
    with pytest.raises(ConfigError, match="field 'telemetry.prometheus_selector': needs prometheus"):
        load_config(write(tmp_path, GOOD + TELEMETRY + "prometheus_selector = 'namespace=\"serving\"'\n"))
    with pytest.raises(ConfigError, match="field 'telemetry.dcgm': unknown key"):
        load_config(write(tmp_path, GOOD + "[telemetry]\ndcgm = 1\n"))
