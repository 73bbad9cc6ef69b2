"""Image perturbations (Pillow + numpy). Each is ``fn(image, rng, severity, env) -> image`` on a
``PIL.Image``; the robustness check reads the file of an ``{"image": path}`` payload (any image
file or ``.npy`` array ``assay.data`` reads) and writes the perturbed image (PNG, named by its
content hash) under the run's image folder.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path
from typing import Any

import numpy as np

from assay.data._images import read_image
from assay.perturb._base import PerturbEnv, register_perturbation

__all__ = ["perturb_image_file", "perturb_image_payload"]


def _np_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def _pil() -> Any:
    from PIL import Image

    return Image


def _as_array(img: Any) -> np.ndarray:
    return np.asarray(img, dtype=np.float64)


def _from_array(a: np.ndarray, mode: str) -> Any:
    return _pil().fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), mode=mode)


@register_perturbation("gaussian_noise", kind="image", default_severity=0.1)
def gaussian_noise(img: Any, rng: random.Random, severity: float, env: PerturbEnv) -> Any:
    """Gaussian pixel noise with standard deviation ``severity`` × 255."""
    a = _as_array(img)
    return _from_array(a + _np_rng(rng).normal(0, severity * 255, a.shape), img.mode)


@register_perturbation("blur", kind="image", default_severity=0.2)
def blur(img: Any, rng: random.Random, severity: float, env: PerturbEnv) -> Any:
    """Gaussian blur with radius ``severity`` × 5 % of the image size (at least 0.5 pixel)."""
    from PIL import ImageFilter

    radius = max(0.5, severity * 0.05 * max(img.size) * 5)
    return img.filter(ImageFilter.GaussianBlur(radius))


@register_perturbation("brightness", kind="image", default_severity=0.3)
def brightness(img: Any, rng: random.Random, severity: float, env: PerturbEnv) -> Any:
    """Brighter or darker by a factor 1 ± ``severity``."""
    from PIL import ImageEnhance

    factor = 1 + severity * (1 if rng.random() < 0.5 else -1)
    return ImageEnhance.Brightness(img).enhance(factor)


@register_perturbation("contrast", kind="image", default_severity=0.3)
def contrast(img: Any, rng: random.Random, severity: float, env: PerturbEnv) -> Any:
    """Contrast scaled by 1 ± ``severity``."""
    from PIL import ImageEnhance

    factor = 1 + severity * (1 if rng.random() < 0.5 else -1)
    return ImageEnhance.Contrast(img).enhance(factor)


@register_perturbation("rotation", kind="image", default_severity=0.2)
def rotation(img: Any, rng: random.Random, severity: float, env: PerturbEnv) -> Any:
    """Rotated by ± ``severity`` × 90 degrees (background filled with the border colour)."""
    angle = severity * 90 * (1 if rng.random() < 0.5 else -1)
    a = _as_array(img)
    fill = int(np.median(np.concatenate([a[0].ravel(), a[-1].ravel()]))) if a.ndim == 2 else None
    return img.rotate(angle, resample=_pil().Resampling.BILINEAR, fillcolor=fill)


@register_perturbation("jpeg", kind="image", default_severity=0.5)
def jpeg(img: Any, rng: random.Random, severity: float, env: PerturbEnv) -> Any:
    """JPEG compression at quality (1 − ``severity``) × 95 (at least 5)."""
    buf = io.BytesIO()
    img.convert("RGB" if img.mode not in ("L", "RGB") else img.mode).save(
        buf, format="JPEG", quality=max(5, int((1 - severity) * 95))
    )
    buf.seek(0)
    return _pil().open(buf).convert(img.mode)


@register_perturbation("occlusion", kind="image", default_severity=0.1)
def occlusion(img: Any, rng: random.Random, severity: float, env: PerturbEnv) -> Any:
    """A grey square covering ``severity`` of the image area, at a random place."""
    a = _as_array(img).copy()
    h, w = a.shape[:2]
    side_h = max(1, round(h * severity**0.5))
    side_w = max(1, round(w * severity**0.5))
    y = rng.randrange(0, h - side_h + 1)
    x = rng.randrange(0, w - side_w + 1)
    a[y : y + side_h, x : x + side_w] = 128
    return _from_array(a, img.mode)


def _same_pixels(a: Any, b: Any) -> bool:
    if a.size != b.size or a.mode != b.mode:
        return False
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def perturb_image_file(
    path: str, fn: Any, rng: random.Random, severity: float, env: PerturbEnv
) -> str:
    """Read the image at ``path``, perturb it, write it as PNG named by its content; return the path.

    When the perturbed pixels equal the original ones, ``path`` itself comes back (unchanged).

    Raises:
        DataError: the image cannot be read.
    """
    return _perturbed(path, fn, rng, severity, env)[0]


def _perturbed(
    path: str, fn: Any, rng: random.Random, severity: float, env: PerturbEnv
) -> tuple[str, str | None]:
    """:func:`perturb_image_file`, and the sha256 of the written file (``None``: unchanged)."""
    p = Path(path)
    if not p.is_absolute() and env.base_dir is not None:
        p = Path(env.base_dir) / p
    img = read_image(p)
    out = fn(img, rng, severity, env)
    if _same_pixels(img, out):
        # Compare content, not paths: a perturbation that changed no pixel (brightening a white
        # image, occluding a grey patch with grey) leaves the input as it was, so the robustness
        # check counts it as unchanged instead of asking the model about an identical image.
        return path, None
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(env.image_dir or ".assay/perturbed")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest[:24]}.png"
    if not target.exists():
        target.write_bytes(data)
    return str(target.resolve()), digest


def perturb_image_payload(
    x: dict[str, Any], fn: Any, rng: random.Random, severity: float, env: PerturbEnv
) -> dict[str, Any]:
    """An ``{"image": path, ...}`` payload with its image perturbed (:func:`perturb_image_file`);
    a ``sha256`` of the original's bytes is replaced by the perturbed file's, so the cache key
    keeps covering the content the model reads.
    """
    path, digest = _perturbed(str(x["image"]), fn, rng, severity, env)
    if digest is None:
        return x
    out = {**x, "image": path}
    if "sha256" in x:
        out["sha256"] = digest
    return out
