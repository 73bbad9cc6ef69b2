"""``hf:`` — a local transformers checkpoint folder (full model or a PEFT/LoRA adapter); image
classifiers are loaded by ``_hf_image.py``."""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assay._types import UNPARSEABLE_LABEL, ModelInfo, Output, Payload, Task
from assay.errors import ConfigError, MissingDependencyError, ModelError
from assay.models._convert import config_labels, parse_task, resolve_path
from assay.models._hf_image import (
    HFImageClassifier,
    is_image_classifier,
    load_image_classifier,
)
from assay.models._registry import check_options, register_model
from assay.models._verbalise import Verbaliser, cut_at_stop, render_prompt

__all__ = ["HFModel", "checkpoint_fingerprint"]

_OPTIONS = {
    "task",
    "base_model",
    "device",
    "dtype",
    "max_length",
    "micro_batch",
    "prompt",
    "system",
    "chat_template",
    "max_new_tokens",
    "stop",
    "temperature",
    "top_p",
    "seed",
    "verbaliser",
    "labels",
    "extract",
    "json_field",
    "scoring",
    "length_normalise",
}
# Options that change what the model answers: part of the fingerprint, so of every cache key.
_ANSWER_OPTIONS = _OPTIONS - {"device", "micro_batch"}
# Files that make up a checkpoint's behaviour. Training state (optimizer, trainer_state) is not.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model", ".gguf", ".tiktoken")
_NOT_WEIGHTS = {
    "trainer_state.json",
    "training_args.bin",
    "optimizer.pt",
    "scheduler.pt",
    "rng_state.pth",
}


def checkpoint_fingerprint(*folders: Path, extra: dict[str, Any] | None = None) -> str:
    """sha256 over the weight, config and tokenizer files of the folders (names and bytes).

    A LoRA adapter is fingerprinted together with its base, so a changed base is a new model.
    """
    h = hashlib.sha256()
    for folder in folders:
        for p in sorted(folder.iterdir()):
            if not p.is_file() or p.name in _NOT_WEIGHTS or not p.name.endswith(_WEIGHT_SUFFIXES):
                continue
            h.update(p.name.encode("utf-8") + b"\0")
            with p.open("rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    h.update(block)
    if extra:
        h.update(json.dumps(extra, sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()


def _task_from_architecture(config: Any, adapter_task: str | None) -> Task:
    if adapter_task:
        by_peft = {"SEQ_CLS": "classification", "CAUSAL_LM": "generation"}
        if adapter_task in by_peft:
            return by_peft[adapter_task]  # type: ignore[return-value]
        if adapter_task == "FEATURE_EXTRACTION":
            return "embedding"
    archs = list(getattr(config, "architectures", None) or [])
    if any(a.endswith("ForSequenceClassification") for a in archs):
        return "classification"
    if any(a.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")) for a in archs):
        return "generation"
    return "embedding"


class HFModel:
    """A transformers model answering in one of four modes.

    - ``classification`` (a sequence-classification head): label and probabilities from the head.
    - ``generation`` (a causal LM): greedy decoding by default; ``temperature`` > 0 samples with
      ``seed``. The tokenizer's chat template wraps the prompt when it has one (``chat_template:
      false`` turns it off).
    - ``lm-classifier`` (a causal LM with a ``verbaliser``): ``scoring: loglik`` (default) scores
      each label's verbalisations by log-likelihood after the prompt and returns a distribution
      over labels (optionally length-normalised: mean log-probability per token);
      ``scoring: generate`` generates and parses the answer, ``(unparseable)`` when it names no
      label.
    - ``embedding`` (an encoder without a head): mean-pooled, L2-normalised vectors.

    Each ``predict`` batch is sorted by token length and run in micro-batches of similar length
    (``micro_batch``, default 16), so padding is small. Inputs longer than ``max_length`` are
    truncated, and each Output says so (``usage["truncated"]``).

    The engine runs one batch of it at a time (``max_concurrency = 1``): a fast tokenizer is not
    safe to call from two threads, and the model's own threads already use the cores.
    """

    max_concurrency: int | None = 1

    def __init__(
        self,
        *,
        model: Any,
        tokenizer: Any,
        mode: str,
        info: ModelInfo,
        options: dict[str, Any],
        verbaliser: Verbaliser | None,
        device: Any,
        max_length: int,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.mode = mode
        self._info = info
        self.options = options
        self.verbaliser = verbaliser
        self.device = device
        self.max_length = max_length
        self.micro_batch = int(options.get("micro_batch", 16))
        use_template = options.get("chat_template")
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if use_template and not has_template:
            raise ConfigError(
                f"models.{info.name}.options.chat_template: the tokenizer has no chat template; "
                "remove the option or set it to false"
            )
        self.use_chat_template = has_template if use_template is None else bool(use_template)
        # torch modules are not safe to call from several engine threads at once.
        self._lock = threading.Lock()
        if getattr(model.config, "id2label", None) and mode == "classification":
            self.labels = list(config_labels(model.config))
        else:
            self.labels = list(verbaliser.labels) if verbaliser is not None else []

    def info(self) -> ModelInfo:
        return self._info

    # -- inputs ---------------------------------------------------------------------------------

    def _prompts(self, batch: Sequence[Payload]) -> list[str]:
        labels = [v[0] for v in self.verbaliser.words.values()] if self.verbaliser else []
        texts = [render_prompt(self.options.get("prompt"), p, labels=labels) for p in batch]
        if self.mode in ("generation", "lm-classifier") and self.use_chat_template:
            system = self.options.get("system")
            out = []
            for t in texts:
                messages = [{"role": "user", "content": t}]
                if system:
                    messages.insert(0, {"role": "system", "content": system})
                out.append(
                    self.tokenizer.apply_chat_template(
                        messages, tokenize=False, add_generation_prompt=True
                    )
                )
            return out
        return texts

    def _encode(
        self, texts: list[str], *, special: bool = True, limit: int | None = None
    ) -> tuple[list[list[int]], list[int]]:
        """Token ids (truncated to ``limit`` or ``max_length``, keeping the end for prompts) and
        full lengths."""
        max_length = self.max_length if limit is None else limit
        ids = self.tokenizer(texts, add_special_tokens=special, truncation=False)["input_ids"]
        lengths = [len(x) for x in ids]
        keep_end = self.mode in ("generation", "lm-classifier")
        out = []
        for x in ids:
            if len(x) > max_length:
                if keep_end:
                    x = x[-max_length:]
                elif special and len(x) >= 2:
                    # keep [CLS] ... and the final [SEP] of encoder inputs
                    x = [*x[: max_length - 1], x[-1]]
                else:
                    x = x[:max_length]
            out.append(list(x))
        return out, lengths

    def _micro_batches(self, lengths: Sequence[int]) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        return [order[i : i + self.micro_batch] for i in range(0, len(order), self.micro_batch)]

    def _pad(self, seqs: list[list[int]], *, left: bool) -> tuple[Any, Any]:
        import torch

        width = max(len(s) for s in seqs)
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.eos_token_id or 0
        ids = torch.full((len(seqs), width), int(pad_id), dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            if left:
                ids[i, width - len(s) :] = torch.tensor(s)
                mask[i, width - len(s) :] = 1
            else:
                ids[i, : len(s)] = torch.tensor(s)
                mask[i, : len(s)] = 1
        return ids.to(self.device), mask.to(self.device)

    # -- answering ------------------------------------------------------------------------------

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        if not batch:
            return []
        import torch

        with self._lock, torch.inference_mode():
            texts = self._prompts(batch)
            if self.mode == "classification":
                return self._classify(texts)
            if self.mode == "embedding":
                return self._embed(texts)
            if self.mode == "lm-classifier" and self.options.get("scoring", "loglik") == "loglik":
                return self._loglik(texts)
            outs = self._generate(texts, params or {})
            if self.mode == "lm-classifier":
                assert self.verbaliser is not None
                parsed = []
                for o in outs:
                    label = self.verbaliser.parse(o.text or "")
                    parsed.append(
                        Output(
                            label=label if label is not None else UNPARSEABLE_LABEL,
                            text=o.text,
                            usage=o.usage,
                        )
                    )
                return parsed
            return outs

    def _usage(self, n_tokens: int) -> dict[str, float]:
        return {
            "input_tokens": float(min(n_tokens, self.max_length)),
            "truncated": float(n_tokens > self.max_length),
        }

    def _classify(self, texts: list[str]) -> list[Output]:
        ids, lengths = self._encode(texts)
        results: list[Output | None] = [None] * len(texts)
        for group in self._micro_batches(lengths):
            input_ids, mask = self._pad([ids[i] for i in group], left=False)
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()
            probs = logits.softmax(-1).cpu().numpy()
            for row, i in zip(probs, group):
                dist = {lbl: float(p) for lbl, p in zip(self.labels, row)}
                results[i] = Output(
                    label=self.labels[int(row.argmax())],
                    probabilities=dist,
                    usage=self._usage(lengths[i]),
                )
        return [r for r in results if r is not None]

    def _embed(self, texts: list[str]) -> list[Output]:
        ids, lengths = self._encode(texts)
        results: list[Output | None] = [None] * len(texts)
        for group in self._micro_batches(lengths):
            input_ids, mask = self._pad([ids[i] for i in group], left=False)
            hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            pooled = pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            for row, i in zip(pooled.cpu().numpy(), group):
                results[i] = Output(
                    embedding=[float(x) for x in row], usage=self._usage(lengths[i])
                )
        return [r for r in results if r is not None]

    def _generate(self, texts: list[str], params: dict[str, Any]) -> list[Output]:
        import torch

        opts = {**self.options, **params}
        max_new = int(opts.get("max_new_tokens", 64))
        temperature = float(opts.get("temperature", 0.0) or 0.0)
        # The prompt and the answer share the model's positions: leave room for the answer.
        limit = max(1, self.max_length - max_new)
        ids, lengths = self._encode(texts, special=not self.use_chat_template, limit=limit)
        results: list[Output | None] = [None] * len(texts)
        for group in self._micro_batches(lengths):
            input_ids, mask = self._pad([ids[i] for i in group], left=True)
            kwargs: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0}
            if temperature > 0:
                kwargs["temperature"] = temperature
                if opts.get("top_p") is not None:
                    kwargs["top_p"] = float(opts["top_p"])
                torch.manual_seed(int(opts.get("seed", 0)))
            else:
                # Greedy: say so explicitly, or a checkpoint's generation_config may sample.
                kwargs.update(temperature=None, top_p=None, top_k=None)
            pad_id = self.tokenizer.pad_token_id
            if pad_id is None:
                pad_id = self.tokenizer.eos_token_id
            out = self.model.generate(
                input_ids=input_ids, attention_mask=mask, pad_token_id=pad_id, **kwargs
            )
            new = out[:, input_ids.shape[1] :].cpu()
            eos = self.tokenizer.eos_token_id
            for row, i in zip(new, group):
                tokens = row.tolist()
                n_out = len(tokens)
                ended = eos is not None and eos in tokens
                if ended:
                    n_out = tokens.index(eos)
                    tokens = tokens[:n_out]
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                text, stopped = cut_at_stop(text, opts.get("stop"))
                usage = {
                    "prompt_tokens": float(len(ids[i])),
                    "completion_tokens": float(n_out),
                    "truncated": float(lengths[i] > limit),
                }
                # as a server says it: "length" when the answer ran into max_new_tokens
                finish = "stop" if ended or stopped or n_out < max_new else "length"
                results[i] = Output(text=text, usage=usage, finish_reason=finish)
        return [r for r in results if r is not None]

    def _tail_logits(self, input_ids: Any, mask: Any, keep: int) -> Any:
        """Logits of the last ``keep`` positions of left-padded sequences."""
        # Positions count from each sequence's first real token, as with right padding.
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        try:
            out = self.model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=position_ids,
                logits_to_keep=keep,
            )
        except TypeError:  # a model without logits_to_keep
            out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids)
        return out.logits[:, -keep:]

    def _loglik(self, texts: list[str]) -> list[Output]:
        """Label probabilities from the log-likelihood of each verbalisation after the prompt."""
        import torch

        assert self.verbaliser is not None
        prompts, lengths = self._encode(texts, special=not self.use_chat_template)
        conts: list[tuple[str, list[int]]] = []
        for label, words in self.verbaliser.words.items():
            for w in words:
                said = w if w.startswith(" ") or self.use_chat_template else " " + w
                toks = self.tokenizer(said, add_special_tokens=False)["input_ids"]
                if toks:
                    conts.append((label, list(toks)))
        pairs = [(i, j) for i in range(len(texts)) for j in range(len(conts))]
        seqs = [(prompts[i] + conts[j][1])[-self.max_length :] for i, j in pairs]
        scores = np.zeros((len(texts), len(conts)))
        norm = bool(self.options.get("length_normalise", False))
        for group in self._micro_batches([len(s) for s in seqs]):
            # Left padding lines every sequence's end up, so only the last few positions need
            # logits: with a large vocabulary (Gemma's 262k) the output layer over every prompt
            # position would cost more than the rest of the model.
            input_ids, mask = self._pad([seqs[k] for k in group], left=True)
            width = input_ids.shape[1]
            keep = min(width, 1 + max(len(conts[pairs[k][1]][1]) for k in group))
            logp = self._tail_logits(input_ids, mask, keep).float().log_softmax(-1)
            for row, k in enumerate(group):
                i, j = pairs[k]
                n_cont = len(conts[j][1])
                positions = torch.arange(keep - n_cont - 1, keep - 1)
                targets = input_ids[row, width - n_cont :]
                lp = logp[row, positions, targets].sum().item()
                scores[i, j] = lp / n_cont if norm else lp
        labels = list(self.verbaliser.words)
        out = []
        for i in range(len(texts)):
            per_label = np.full(len(labels), -np.inf)
            for j, (label, _) in enumerate(conts):
                li = labels.index(label)
                per_label[li] = np.logaddexp(per_label[li], scores[i, j])
            p = np.exp(per_label - per_label.max())
            p /= p.sum()
            out.append(
                Output(
                    label=labels[int(p.argmax())],
                    probabilities={lbl: float(x) for lbl, x in zip(labels, p)},
                    usage=self._usage(lengths[i]),
                )
            )
        return out


def _import_transformers() -> Any:
    try:
        import torch  # noqa: F401
        import transformers
    except ImportError as e:
        raise MissingDependencyError(
            f"the hf: adapter needs torch and transformers ({e.name} is missing); install them "
            "with: pip install torch==2.13.0 && pip install 'assay[hf]'"
        ) from None
    # Loading bars would interleave with assay's own progress display.
    transformers.utils.logging.disable_progress_bar()
    return transformers


def _device_and_dtype(options: dict[str, Any], *, name: str) -> tuple[Any, Any]:
    """The torch device and dtype the options ask for (``auto``: CUDA when there is one, and
    bfloat16 there when it is supported; else the CPU in float32)."""
    import torch

    device_opt = options.get("device", "auto")
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if device_opt == "auto" else device_opt
    )
    dtype_opt = options.get("dtype", "auto")
    if dtype_opt == "auto":
        dtype = (
            torch.bfloat16
            if device.type == "cuda" and torch.cuda.is_bf16_supported()
            else torch.float32
        )
    else:
        found = getattr(torch, str(dtype_opt), None)
        if not isinstance(found, torch.dtype):
            raise ConfigError(
                f"models.{name}.options.dtype: {dtype_opt!r} is not a torch dtype "
                "(float32, bfloat16, float16) or auto"
            )
        dtype = found
    return device, dtype


@register_model("hf")
def _load_hf(
    target: str,
    *,
    name: str,
    spec: str,
    trust: bool,
    base_dir: Path,
    options: dict[str, Any],
) -> HFModel | HFImageClassifier:
    check_options(options, _OPTIONS, name=name, prefix="hf")
    folder = resolve_path(target, base_dir)
    if not folder.is_dir():
        raise ModelError(
            f"models.{name}: {folder} is not a folder; hf: takes a checkpoint folder holding "
            "config.json (or adapter_config.json for a LoRA adapter) and the weights"
        )
    adapter_cfg_path = folder / "adapter_config.json"
    is_adapter = adapter_cfg_path.is_file()
    if not is_adapter and not (folder / "config.json").is_file():
        raise ModelError(
            f"models.{name}: {folder} holds neither config.json nor adapter_config.json; "
            "point hf: at a folder saved with save_pretrained()"
        )
    transformers = _import_transformers()

    base = folder
    adapter_task: str | None = None
    if is_adapter:
        try:
            import peft
        except ImportError:
            raise MissingDependencyError(
                f"models.{name}: {folder} is a PEFT adapter, which needs peft; install it with: "
                "pip install 'assay[hf]'"
            ) from None
        acfg = json.loads(adapter_cfg_path.read_text(encoding="utf-8"))
        adapter_task = acfg.get("task_type")
        base_ref = options.get("base_model") or acfg.get("base_model_name_or_path")
        base = resolve_path(str(base_ref), base_dir) if base_ref else folder
        if not base.is_dir():
            base = resolve_path(str(base_ref), folder)
        if not base.is_dir():
            raise ModelError(
                f"models.{name}: the adapter's base model {base_ref!r} is not a local folder "
                f"(adapter_config.json base_model_name_or_path); set options.base_model to the "
                "base checkpoint folder — assay never downloads weights"
            )
    config_dir = folder if (folder / "config.json").is_file() else base
    config = transformers.AutoConfig.from_pretrained(config_dir, local_files_only=True)
    if is_image_classifier(config):
        if is_adapter:
            raise ModelError(
                f"models.{name}: {folder} is a LoRA adapter on an image classifier, which hf: "
                "does not load yet; merge it into its base (model.merge_and_unload()) and "
                "save_pretrained the merged model with its image processor"
            )
        device, dtype = _device_and_dtype(options, name=name)
        return load_image_classifier(
            transformers,
            folder,
            config,
            name=name,
            spec=spec,
            options=options,
            device=device,
            dtype=dtype,
            base_dir=base_dir,
            fingerprint=checkpoint_fingerprint(
                folder,
                extra={
                    **{k: v for k, v in sorted(options.items()) if k in _ANSWER_OPTIONS},
                    "_mode": "image-classification",
                },
            ),
        )
    arch_task = _task_from_architecture(config, adapter_task)
    verbaliser = (
        Verbaliser.from_options(options, name=name)
        if options.get("verbaliser") is not None or options.get("labels") is not None
        else None
    )
    task = parse_task(options.get("task"), name=name) or (
        "classification" if verbaliser is not None and arch_task == "generation" else arch_task
    )
    mode: str = task
    if task == "classification" and arch_task == "generation":
        mode = "lm-classifier"
        if verbaliser is None:
            raise ConfigError(
                f"models.{name}.options: a causal LM used as a classifier needs a verbaliser, "
                "such as verbaliser: {positive: positive, negative: negative}"
            )
    if options.get("scoring", "loglik") not in ("loglik", "generate"):
        raise ConfigError(
            f"models.{name}.options.scoring: {options['scoring']!r} is not loglik or generate"
        )

    device, dtype = _device_and_dtype(options, name=name)

    auto = {
        "classification": transformers.AutoModelForSequenceClassification,
        "lm-classifier": transformers.AutoModelForCausalLM,
        "generation": transformers.AutoModelForCausalLM,
        "embedding": transformers.AutoModel,
    }[mode]
    load_kwargs: dict[str, Any] = {"local_files_only": True, "dtype": dtype}
    if mode == "classification" and config_dir != base:
        load_kwargs["config"] = config
    try:
        model = auto.from_pretrained(base, **load_kwargs)
        if is_adapter:
            # peft calls transformers APIs that transformers marks deprecated; not the user's concern
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                model = peft.PeftModel.from_pretrained(model, folder, is_trainable=False)
    except (OSError, ValueError, RuntimeError) as e:
        raise ModelError(f"models.{name}: cannot load {folder}: {e}") from None
    model.to(device)
    model.eval()
    tok_dir = folder if (folder / "tokenizer_config.json").is_file() else base
    tokenizer = transformers.AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token

    limits = [
        int(x)
        for x in (
            options.get("max_length"),
            getattr(config, "max_position_embeddings", None),
            getattr(config, "n_positions", None),
        )
        if x
    ]
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and tok_max < 1_000_000:
        limits.append(tok_max)
    max_length = min(limits) if limits else 512
    if options.get("max_length") is None:
        max_length = min(max_length, 512 if mode in ("classification", "embedding") else 2048)

    extra = {k: v for k, v in sorted(options.items()) if k in _ANSWER_OPTIONS}
    extra["_mode"] = mode
    folders = [folder] if base == folder else [folder, base]
    fingerprint = checkpoint_fingerprint(*folders, extra=extra)
    out_task: Task = "classification" if mode == "lm-classifier" else task
    labels: tuple[str, ...] | None = None
    if mode == "classification":
        labels = config_labels(model.config)
    elif verbaliser is not None:
        labels = verbaliser.labels
    info = ModelInfo(
        name=name,
        spec=spec,
        task=out_task,
        fingerprint=fingerprint,
        labels=labels,
        details={
            "adapter": "hf",
            "mode": mode,
            "architecture": (list(config.architectures or []) or [type(model).__name__])[0],
            "lora": is_adapter,
            "base": str(base.name) if is_adapter else None,
            "device": str(device),
            "dtype": str(dtype).replace("torch.", ""),
            "max_length": max_length,
            "transformers_version": transformers.__version__,
        },
    )
    return HFModel(
        model=model,
        tokenizer=tokenizer,
        mode=mode,
        info=info,
        options=dict(options),
        verbaliser=verbaliser,
        device=device,
        max_length=max_length,
    )
