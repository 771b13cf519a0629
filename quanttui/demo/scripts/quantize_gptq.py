"""GPTQ INT4 (W4A16, asymmetric, group 64) of the BF16 model with llm-compressor's GPTQModifier.

    python quantize_gptq.py SRC_DIR OUT_DIR --calib CALIB.txt [--threads N]

Run by the llmc venv's python (llmcompressor 0.14.0.1); quanttui never imports this file. It shares
the scheme and the calibration samples with quantize.py (imported from beside it), so GPTQ and AWQ
differ only in the method: GPTQ quantizes each Linear's columns in blocks and spreads every
column's rounding error over the columns not yet quantized, weighted by the inverse Hessian of the
layer's inputs (H = 2 X Xᵀ from the calibration text). Activation ordering "static" (columns by
decreasing Hessian diagonal, no runtime cost), dampening 1 % of the mean diagonal.

A layer whose Hessian cannot be inverted falls back to round-to-nearest inside llm-compressor; the
count of such layers is printed in the result so a "GPTQ" model that is really RTN cannot pass
unnoticed (the build fails if more than a tenth of the layers fell back).
"""

import argparse
import json
import sys
import time

import torch
from quantize import calibration_dataset, no_pin_memory_without_cuda, save_checked, w4g64_scheme


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--calib", required=True, help="calibration text")
    ap.add_argument("--max-len", type=int, default=256, help="tokens per calibration sample")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.time()

    from llmcompressor import oneshot
    from llmcompressor.modifiers.gptq import GPTQModifier
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.src)
    model = AutoModelForCausalLM.from_pretrained(args.src, dtype=torch.bfloat16)
    no_pin_memory_without_cuda()
    ds = calibration_dataset(tok, args.calib, args.max_len)
    gptq = GPTQModifier(
        config_groups={"group_0": w4g64_scheme()},
        ignore=["lm_head"],
        block_size=128,
        dampening_frac=0.01,
        actorder="static",
    )
    oneshot(
        model=model,
        tokenizer=tok,
        dataset=ds,
        recipe=[gptq],
        num_calibration_samples=len(ds),
        max_seq_length=args.max_len,
    )
    fallbacks = list(getattr(gptq, "_rtn_fallback_module_names", []))
    linear = sum(1 for _, m in model.named_modules() if isinstance(m, torch.nn.Linear)) - 1  # lm_head
    qc = save_checked(model, tok, args.out)
    weights = qc["config_groups"]["group_0"]["weights"]
    if len(fallbacks) > linear / 10:
        sys.exit(
            f"GPTQ fell back to round-to-nearest on {len(fallbacks)} of {linear} layers: {fallbacks[:5]}"
        )
    print(
        json.dumps(
            {
                "method": "gptq",
                "format": qc["format"],
                "layers": linear,
                "rtn_fallback_layers": len(fallbacks),
                "actorder": weights.get("actorder"),
                "seconds": round(time.time() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
