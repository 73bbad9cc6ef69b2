"""``hf:`` image classifiers: an ``AutoModelForImageClassification`` checkpoint with its image
processor (``AutoImageProcessor``), both read from the checkpoint folder.

The folder is recognised by its config (an architecture named ``...ForImageClassification``);
``_hf.py``'s loader hands it here. Inputs are ``{"image": path, ...}`` payloads, whatever the
dataset held (files, bytes, arrays: ``assay.data._images`` turns each into a file); labels come
from ``config.id2label``; the answer is the label and the softmax probabilities.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay._types import ModelInfo, Output, Payload
from assay.data._images import read_image
from assay.errors import ConfigError, DataError, ModelError, PartialBatchError
from assay.models._convert import config_labels

__all__ = ["HFImageClassifier", "is_image_classifier", "load_image_classifier"]

#: The options an image classifier takes (the text options — prompt, max_length ... — do not apply).
IMAGE_OPTIONS = {"task", "device", "dtype", "micro_batch"}


def is_image_classifier(config: Any) -> bool:
    """Whether a transformers config describes an image-classification model."""
    archs = list(getattr(config, "architectures", None) or [])
    return any(a.endswith("ForImageClassification") for a in archs)


class HFImageClassifier:
    """An image classifier answering label and probabilities for ``{"image": path}`` payloads.

    Each ``predict`` batch is decoded (Pillow, or ``.npy`` arrays), converted to the model's
    number of channels (``L`` for 1, ``RGB`` for 3), prepared by the checkpoint's image processor
    and run in micro-batches of ``micro_batch`` (default 32). An image that cannot be read fails
    alone: its error names the file, and the engine records it as that input's error.

    The engine runs one batch at a time (``max_concurrency = 1``): the model's own threads
    already use the cores.
    """

    max_concurrency: int | None = 1

    def __init__(
        self,
        *,
        model: Any,
        processor: Any,
        info: ModelInfo,
        device: Any,
        dtype: Any,
        base_dir: Path,
        micro_batch: int = 32,
    ) -> None:
        self.model = model
        self.processor = processor
        self._info = info
        self.device = device
        self.dtype = dtype
        self.base_dir = base_dir
        self.micro_batch = micro_batch
        self.labels = list(info.labels or ())
        channels = getattr(model.config, "num_channels", 3)
        self.mode = {1: "L", 3: "RGB"}.get(int(channels))
        self._lock = threading.Lock()

    def info(self) -> ModelInfo:
        return self._info

    def _image(self, payload: Payload) -> Any:
        if not isinstance(payload, dict) or "image" not in payload:
            raise ModelError(
                f"model {self._info.name!r} is an image classifier and got "
                f"{type(payload).__name__} input; declare the dataset's image column with "
                "`input: {image: <column>}`"
            )
        path = Path(str(payload["image"]))
        img = read_image(path if path.is_absolute() else self.base_dir / path)
        if self.mode is not None and img.mode != self.mode:
            img = img.convert(self.mode)
        return img

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        if not batch:
            return []
        import torch

        results: list[Output | BaseException | None] = [None] * len(batch)
        images: list[tuple[int, Any]] = []
        for i, payload in enumerate(batch):
            try:
                images.append((i, self._image(payload)))
            except (DataError, ModelError) as e:
                results[i] = ModelError(str(e))
        with self._lock, torch.inference_mode():
            for start in range(0, len(images), self.micro_batch):
                group = images[start : start + self.micro_batch]
                pixels = self.processor(images=[im for _, im in group], return_tensors="pt")
                x = pixels["pixel_values"].to(self.device, self.dtype)
                probs = self.model(pixel_values=x).logits.float().softmax(-1).cpu().numpy()
                for (i, _), row in zip(group, probs):
                    results[i] = Output(
                        label=self.labels[int(row.argmax())],
                        probabilities={lbl: float(p) for lbl, p in zip(self.labels, row)},
                    )
        if any(isinstance(r, BaseException) for r in results):
            failed = sum(isinstance(r, BaseException) for r in results)
            raise PartialBatchError(
                f"{failed} of {len(batch)} images could not be read", results=results
            )
        return [r for r in results if isinstance(r, Output)]


def load_image_classifier(
    transformers: Any,
    folder: Path,
    config: Any,
    *,
    name: str,
    spec: str,
    options: dict[str, Any],
    device: Any,
    dtype: Any,
    base_dir: Path,
    fingerprint: str,
) -> HFImageClassifier:
    """The image classifier in ``folder`` with its image processor.

    Raises:
        ConfigError: an option only text models take, or a task other than classification.
        ModelError: no image processor in the folder, or the weights do not load.
    """
    text_only = sorted(set(options) - IMAGE_OPTIONS)
    if text_only:
        raise ConfigError(
            f"models.{name}.options: {', '.join(text_only)} apply to text models only; "
            f"{folder.name} is an image classifier (options: {', '.join(sorted(IMAGE_OPTIONS))})"
        )
    if options.get("task") not in (None, "classification"):
        raise ConfigError(
            f"models.{name}.options.task: {options['task']!r}; an image classifier's task is "
            "classification"
        )
    if not (folder / "preprocessor_config.json").is_file():
        raise ModelError(
            f"models.{name}: {folder} holds an image classifier but no preprocessor_config.json; "
            "save its image processor there too (processor.save_pretrained(folder))"
        )
    logging = transformers.utils.logging
    verbosity = logging.get_verbosity()
    # Without torchvision, transformers says it falls back to its PIL processor: the same
    # pixels, and nothing the user can act on inside a run.
    logging.set_verbosity_error()
    try:
        processor = transformers.AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        model = transformers.AutoModelForImageClassification.from_pretrained(
            folder, local_files_only=True, dtype=dtype
        )
    except (OSError, ValueError, RuntimeError) as e:
        raise ModelError(f"models.{name}: cannot load {folder}: {e}") from None
    finally:
        logging.set_verbosity(verbosity)
    model.to(device)
    model.eval()
    labels = config_labels(model.config)
    info = ModelInfo(
        name=name,
        spec=spec,
        task="classification",
        fingerprint=fingerprint,
        labels=labels,
        details={
            "adapter": "hf",
            "mode": "image-classification",
            "architecture": (list(config.architectures or []) or [type(model).__name__])[0],
            "image_processor": type(processor).__name__,
            "image_size": getattr(config, "image_size", None),
            "num_channels": getattr(config, "num_channels", None),
            "device": str(device),
            "dtype": str(dtype).replace("torch.", ""),
            "transformers_version": transformers.__version__,
        },
    )
    return HFImageClassifier(
        model=model,
        processor=processor,
        info=info,
        device=device,
        dtype=dtype,
        base_dir=base_dir,
        micro_batch=int(options.get("micro_batch", 32)),
    )
