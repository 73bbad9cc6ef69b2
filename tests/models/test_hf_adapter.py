"""The hf: adapter on the real all-MiniLM-L6-v2, a LoRA adapter trained here, and a tiny GPT-2."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assay._types import UNPARSEABLE_LABEL, LimitsConcurrency  # noqa: E402
from assay.errors import ConfigError, ModelError  # noqa: E402
from assay.models import load_model  # noqa: E402
from assay.models._verbalise import Verbaliser  # noqa: E402
from lm_fixtures import minilm_path, tiny_gpt2  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
TEXTS = [
    "a great and moving film",
    "dull",
    "the plot is a mess and the acting is worse than anything I have seen this year " * 3,
    "fun",
]


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    m = transformers.AutoModelForSequenceClassification.from_pretrained(
        minilm_path(),
        num_labels=2,
        id2label={0: "neg", 1: "pos"},
        label2id={"neg": 0, "pos": 1},
        local_files_only=True,
    )
    out = tmp_path_factory.mktemp("cls") / "ckpt"
    m.save_pretrained(out)
    transformers.AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(out)
    return out


def _reference_probs(folder: Path, texts: list[str], max_length: int) -> np.ndarray:
    """One text at a time, no padding: an independent forward pass."""
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    m = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    rows = []
    with torch.inference_mode():
        for t in texts:
            enc = tok(t, return_tensors="pt", truncation=True, max_length=max_length)
            rows.append(m(**enc).logits.softmax(-1)[0].numpy())
    return np.array(rows)


@pytest.mark.slow
def test_minilm_classifier_matches_unpadded_forward_and_counts_truncation(
    classifier_dir: Path,
) -> None:
    m = load_model(f"hf:{classifier_dir}", options={"max_length": 16, "micro_batch": 3})
    info = m.info()
    assert info.task == "classification" and info.labels == ("neg", "pos")
    out = m.predict(TEXTS)
    got = np.array([[o.probabilities["neg"], o.probabilities["pos"]] for o in out])
    np.testing.assert_allclose(got, _reference_probs(classifier_dir, TEXTS, 16), atol=1e-5)
    assert [o.label for o in out] == [["neg", "pos"][int(r.argmax())] for r in got]
    assert [o.usage["truncated"] for o in out] == [0.0, 0.0, 1.0, 0.0]
    assert isinstance(m, LimitsConcurrency) and m.max_concurrency == 1  # one batch at a time


@pytest.mark.slow
def test_minilm_embeddings_match_sentence_transformers() -> None:
    st = pytest.importorskip("sentence_transformers")
    m = load_model(f"hf:{minilm_path()}")
    assert m.info().task == "embedding"
    got = np.array([o.embedding for o in m.predict(TEXTS[:2])])
    ref = st.SentenceTransformer(str(minilm_path()), device="cpu").encode(TEXTS[:2])
    np.testing.assert_allclose(got, ref, atol=1e-5)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning")
def test_lora_adapter_trained_here_loads_on_its_base(tmp_path: Path, classifier_dir: Path) -> None:
    peft = pytest.importorskip("peft")
    torch.manual_seed(0)
    base = transformers.AutoModelForSequenceClassification.from_pretrained(classifier_dir)
    cfg = peft.LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=["query", "value"])
    model = peft.get_peft_model(base, cfg)
    tok = transformers.AutoTokenizer.from_pretrained(classifier_dir)
    batch = tok(["good fun", "awful mess"], return_tensors="pt", padding=True)
    labels = torch.tensor([1, 0])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    model.eval()
    with torch.inference_mode():
        ref = model(**tok(TEXTS[0], return_tensors="pt")).logits.softmax(-1)[0].numpy()

    m = load_model(f"hf:{adapter}", options={"base_model": str(classifier_dir)})
    assert m.info().details["lora"] is True
    (o,) = m.predict(TEXTS[:1])
    np.testing.assert_allclose([o.probabilities["neg"], o.probabilities["pos"]], ref, atol=1e-5)
    # the adapter is part of the fingerprint
    plain = load_model(f"hf:{classifier_dir}")
    assert plain.info().fingerprint != m.info().fingerprint


def test_tiny_gpt2_generation_is_greedy_and_deterministic(tmp_path: Path) -> None:
    folder = tiny_gpt2(tmp_path / "g", chat_template=True)
    m = load_model(f"hf:{folder}", options={"max_new_tokens": 4})
    assert m.info().task == "generation"
    a = m.predict(["the film is good", "bad"])
    b = m.predict(["bad"])
    assert a[1].text == b[0].text  # batching and padding do not change greedy answers
    assert a[0].usage["completion_tokens"] <= 4


def test_generation_is_cut_at_the_first_stop_string(tmp_path: Path) -> None:
    folder = tiny_gpt2(tmp_path / "g")
    (full,) = load_model(f"hf:{folder}", options={"max_new_tokens": 8}).predict(["the film"])
    words = full.text.split()
    assert len(words) >= 3
    stop = words[2]
    cut = load_model(f"hf:{folder}", options={"max_new_tokens": 8, "stop": ["zzz", stop]})
    (o,) = cut.predict(["the film"])
    assert o.text == full.text[: full.text.find(stop)]
    plain = load_model(f"hf:{folder}", options={"max_new_tokens": 8})
    assert cut.info().fingerprint != plain.info().fingerprint  # stop changes the answers
    # like a server's finish_reason: an answer that ran into max_new_tokens may be cut short
    assert (full.finish_reason, o.finish_reason) == ("length", "stop")


def test_inputs_longer_than_the_positions_are_truncated_not_crashed(tmp_path: Path) -> None:
    # tiny GPT-2 has 64 positions: prompt + answer (or + label words) must fit in them
    folder = tiny_gpt2(tmp_path / "g")
    long = " ".join(["the film is good"] * 40)
    gen = load_model(f"hf:{folder}", options={"max_new_tokens": 12})
    (o,) = gen.predict([long])
    assert o.usage["truncated"] == 1.0 and o.usage["prompt_tokens"] == 64 - 12
    cls = load_model(f"hf:{folder}", options={"verbaliser": {"pos": "very good", "neg": "bad"}})
    (c,) = cls.predict([long])
    assert c.usage["truncated"] == 1.0
    assert sum(c.probabilities.values()) == pytest.approx(1.0)


def test_loglik_classifier_probabilities_match_a_literal_computation(tmp_path: Path) -> None:
    folder = tiny_gpt2(tmp_path / "g")
    opts = {"verbaliser": {"pos": "good", "neg": ["bad", "awful"]}, "prompt": "review : {input} :"}
    m = load_model(f"hf:{folder}", options=opts)
    assert m.info().task == "classification" and m.info().labels == ("pos", "neg")
    (o,) = m.predict(["the plot is fun"])
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    lm = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    prompt = tok("review : the plot is fun :")["input_ids"]

    def logp(word: str) -> float:
        cont = tok(" " + word, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt + cont])
        with torch.inference_mode():
            lp = lm(ids).logits.log_softmax(-1)[0]
        return sum(float(lp[len(prompt) + k - 1, t]) for k, t in enumerate(cont))

    s_pos = np.exp(logp("good"))
    s_neg = np.exp(logp("bad")) + np.exp(logp("awful"))
    assert o.probabilities["pos"] == pytest.approx(s_pos / (s_pos + s_neg), abs=1e-6)
    gen = load_model(f"hf:{folder}", options={**opts, "scoring": "generate", "max_new_tokens": 2})
    assert gen.predict(["x"])[0].label in ("pos", "neg", UNPARSEABLE_LABEL)


def test_loglik_with_padding_and_multi_token_labels_matches_unpadded(tmp_path: Path) -> None:
    # texts of different lengths and labels of one and two tokens share a micro-batch, so the
    # left padding, position ids and kept tail logits must give each sequence's own scores
    folder = tiny_gpt2(tmp_path / "g", seed=3)
    opts = {
        "verbaliser": {"pos": "very good", "neg": "bad"},
        "prompt": "review : {input} :",
        "micro_batch": 8,
    }
    m = load_model(f"hf:{folder}", options=opts)
    texts = ["fun", "the plot is not very fun and the acting was dull", "i love it !"]
    outs = m.predict(texts)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    lm = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    for text, o in zip(texts, outs):
        prompt = tok(f"review : {text} :")["input_ids"]

        def logp(words: str, prompt: list[int] = prompt) -> float:
            cont = tok(" " + words, add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                lp = lm(torch.tensor([prompt + cont])).logits.log_softmax(-1)[0]
            return sum(float(lp[len(prompt) + k - 1, t]) for k, t in enumerate(cont))

        s_pos, s_neg = np.exp(logp("very good")), np.exp(logp("bad"))
        assert o.probabilities["pos"] == pytest.approx(s_pos / (s_pos + s_neg), abs=1e-5)


def test_verbaliser_parsing() -> None:
    v = Verbaliser.from_options(
        {"verbaliser": {"pos": ["positive", "good"], "neg": "negative"}, "json_field": "label"}
    )
    assert v.parse('Sure! {"label": "Positive", "why": "..."}') == "pos"
    assert v.parse('{"label": "meh"}') is None and v.parse("negative") is None
    r = Verbaliser.from_options({"labels": ["yes", "no"], "extract": r"answer:\s*(\w+)"})
    assert r.parse("no wait... Answer: YES") == "yes"
    assert Verbaliser.from_options({"labels": ["a b", "a"]}).parse("it is a b.") == "a b"
    with pytest.raises(ConfigError, match="verbaliser"):
        Verbaliser.from_options({"verbaliser": {"x": []}})


def test_errors_name_the_folder_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a folder"):
        load_model(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(ModelError, match="config.json"):
        load_model(f"hf:{tmp_path}")
    with pytest.raises(ConfigError, match="unknown option"):
        load_model(f"hf:{tmp_path}", options={"nope": 1})
