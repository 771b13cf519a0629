"""Counting a chat prompt's tokens from a model's tokenizer files (issue 19): real tokenizers
trained and saved by the `tokenizers` library, real chat templates rendered by Jinja."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from quanttui.io.tokenizer_files import TokenizerFiles, TokenizerFilesError

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Write a SQL query that counts orders per customer.",
    "Explain recursion with a real-world analogy.",
] * 20


def bpe_folder(folder: Path, template_in_config: bool = False) -> Path:
    """A byte-level BPE tokenizer with ChatML's special tokens, as a model folder holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|im_start|>", "<|im_end|>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    tokenizer.train_from_iterator(TEXTS, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"}}
    if template_in_config:
        config["chat_template"] = [
            {"name": "default", "template": CHATML},
            {"name": "tool_use", "template": "x"},
        ]
    else:
        (folder / "chat_template.jinja").write_text(CHATML)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_a_chat_is_counted_as_its_rendered_template_encoded_without_added_tokens(tmp_path):
    folder = bpe_folder(tmp_path / "model")
    files = TokenizerFiles.load(folder)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Explain recursion."}]
    rendered = files.render_chat(messages)
    assert rendered == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nExplain recursion.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ids = raw.encode(rendered, add_special_tokens=False).ids
    assert files.count_chat(messages) == len(ids)
    assert ids.count(raw.token_to_id("<|im_start|>")) == 3  # each special token is one token
    longer = [*messages, {"role": "assistant", "content": "A function calling itself."}]
    assert files.count_chat(longer) > files.count_chat(messages)


def test_the_template_may_come_from_tokenizer_config_by_name(tmp_path):
    in_file = TokenizerFiles.load(bpe_folder(tmp_path / "a"))
    in_config = TokenizerFiles.load(bpe_folder(tmp_path / "b", template_in_config=True))
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    assert in_config.render_chat(messages) == in_file.render_chat(messages)
    assert in_config.special == {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}


def test_bad_tokenizer_folders_are_one_line_naming_the_file(tmp_path):
    with pytest.raises(TokenizerFilesError, match=r"empty/tokenizer.json: no such file"):
        TokenizerFiles.load(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{not json")
    with pytest.raises(TokenizerFilesError, match=r"broken/tokenizer.json: not a tokenizer"):
        TokenizerFiles.load(broken)
    folder = bpe_folder(tmp_path / "no-template")
    (folder / "chat_template.jinja").unlink()
    with pytest.raises(
        TokenizerFilesError, match=r"no chat template .*'chat_template' in tokenizer_config.json"
    ):
        TokenizerFiles.load(folder)
    (folder / "tokenizer_config.json").write_text("[1, 2]")
    with pytest.raises(TokenizerFilesError, match=r"tokenizer_config.json: not a JSON object"):
        TokenizerFiles.load(folder)
    (folder / "tokenizer_config.json").write_text("{}")
    (folder / "chat_template.jinja").write_text("{% for m in messages %}")
    with pytest.raises(TokenizerFilesError, match=r"the chat template does not parse"):
        TokenizerFiles.load(folder)


def test_a_template_that_refuses_the_messages_says_why(tmp_path):
    folder = bpe_folder(tmp_path / "strict")
    (folder / "chat_template.jinja").write_text(
        "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with user') }}"
        "{% endif %}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    )
    files = TokenizerFiles.load(folder)
    assert files.count_chat([{"role": "user", "content": "hi"}]) >= 1
    with pytest.raises(
        TokenizerFilesError, match="refuses these messages: Conversation must start with user"
    ):
        files.count_chat([{"role": "system", "content": "x"}])


def test_the_template_runs_sandboxed_and_a_bad_one_fails_when_loaded(tmp_path):
    folder = bpe_folder(tmp_path / "sneaky")
    (folder / "chat_template.jinja").write_text("{{ messages.__class__.__mro__ }}")
    with pytest.raises(TokenizerFilesError, match="refuses these messages"):
        TokenizerFiles.load(folder)  # rendered once on loading, so a bad template stops a run up front
    (folder / "chat_template.jinja").write_text("{{ messages[0]['content'] + 1 }}")
    with pytest.raises(TokenizerFilesError, match=r"the chat template fails on these messages: TypeError: "):
        TokenizerFiles.load(folder)


def test_what_transformers_templates_use_renders(tmp_path):
    """`{% generation %}` blocks, `tojson` with separators and a BOS token from special_tokens_map.json."""
    folder = bpe_folder(tmp_path / "model")
    (folder / "tokenizer_config.json").write_text("{}")
    (folder / "special_tokens_map.json").write_text(json.dumps({"bos_token": {"content": "<|im_start|>"}}))
    (folder / "chat_template.jinja").write_text(
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}{% generation %}"
        "{{ m['content'] }}{% endgeneration %}{% else %}{{ m | tojson(separators=(',', ':')) }}{% endif %}"
        "{% endfor %}"
    )
    files = TokenizerFiles.load(folder)
    rendered = files.render_chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    assert rendered == '<|im_start|>{"role":"user","content":"hi"}yo'


def test_a_truncation_saved_in_the_file_does_not_cut_the_count(tmp_path):
    """llm-compressor saves its calibration's truncation into the quantized copy's tokenizer.json;
    vLLM encodes a prompt whole, and so must the count."""
    folder = bpe_folder(tmp_path / "model")
    whole = TokenizerFiles.load(folder).count_chat([{"role": "user", "content": TEXTS[0] * 5}])
    saved = Tokenizer.from_file(str(folder / "tokenizer.json"))
    saved.enable_truncation(max_length=8)
    saved.enable_padding(length=512)
    saved.save(str(folder / "tokenizer.json"))
    assert whole > 8
    assert TokenizerFiles.load(folder).count_chat([{"role": "user", "content": TEXTS[0] * 5}]) == whole
