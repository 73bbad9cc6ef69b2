"""Image inputs: where an image column's values point, reading them, and their content hashes.

A dataset's image column holds, per row, one of:

- a path to an image file (PNG, JPEG or any format Pillow reads) or to a ``.npy`` array, relative
  to the data file's folder (then, if not there, to the suite's folder) or absolute;
- the encoded bytes of an image file (a Parquet binary column), or a Hugging Face ``Image``
  feature's ``{"bytes": ..., "path": ...}``;
- an array of pixels (H×W, or H×W×C with C 1, 3 or 4: a Parquet list column, a Hugging Face
  ``Array2D``/``Array3D`` feature).

Loading resolves each value to an :class:`ImageRef` (an absolute file path and the sha256 of the
file's bytes); bytes and arrays are written once to a content-addressed file (``.npy`` for
arrays, so no pixel is rounded) under the suite's ``.assay/images/``. Every reader of an image
input — the ``hf:`` adapter, the image perturbations — goes through :func:`read_image`, so a
``.npy`` array is an image everywhere.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assay.errors import DataError

__all__ = [
    "IMAGE_NOT_READABLE",
    "ImageRef",
    "file_sha256",
    "image_payload",
    "read_image",
    "resolve_image",
]

#: The reason a row is refused (or skipped, under ``on_invalid: skip``) when its image cannot
#: be found or decoded; the key in ``Dataset.dropped``.
IMAGE_NOT_READABLE = "image not readable"


@dataclass(frozen=True)
class ImageRef:
    """One image input, resolved.

    Attributes:
        path: the absolute path of the file (the user's file, or the file its bytes or array were
            written to).
        sha256: the sha256 of the file's bytes: part of every cache key that asks about it, so a
            file changed in place is a new question.
    """

    path: str
    sha256: str


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def image_payload(ref: ImageRef) -> dict[str, str]:
    """The model input for an image: its path, and its content hash (which the cache key covers)."""
    return {"image": ref.path, "sha256": ref.sha256}


def _pil() -> Any:
    from PIL import Image

    return Image


def _array_image(a: np.ndarray) -> Any:
    """A PIL image from an array of pixels: integers in 0–255, or floats in [0, 1] (scaled by
    255, as an image processor's rescale expects 0–255)."""
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))) or a.size == 0:
        raise ValueError(
            f"an array of shape {a.shape} is not an image; give H×W or H×W×C with C 1, 3 or 4"
        )
    if a.dtype.kind == "b":
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "f":
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise ValueError(
                f"float pixels must lie in [0, 1] (found {np.nanmin(a):g} to {np.nanmax(a):g}); "
                "give uint8 pixels 0-255 or floats in [0, 1]"
            )
        a = np.rint(a * 255)
    elif a.dtype.kind in "iu":
        if a.min() < 0 or a.max() > 255:
            raise ValueError(
                f"integer pixels must lie in 0-255 (found {a.min()} to {a.max()}); "
                "give uint8 pixels 0-255 or floats in [0, 1]"
            )
    else:
        raise ValueError(f"an array of {a.dtype} is not pixels; give uint8 or float values")
    return _pil().fromarray(a.astype(np.uint8))


def read_image(path: str | Path) -> Any:
    """The image in a file, decoded into a PIL image: an image file Pillow reads, or a ``.npy``
    array of pixels (see the module's docstring), told apart by their bytes.

    Raises:
        DataError: the file is missing or does not decode, naming the file and what was wrong.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"image {str(p)!r}: no such file") from None
    except OSError as e:
        raise DataError(f"image {str(p)!r}: cannot be read ({e})") from None
    try:
        return _decode(data)
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"image {str(p)!r}: {_DOES_NOT_DECODE.format(e)}") from None


_DOES_NOT_DECODE = (
    "does not decode ({}); give a PNG or JPEG file, or a .npy array of pixels "
    "(uint8 0-255 or floats in [0, 1])"
)


def _decode(data: bytes) -> Any:
    """A PIL image (mode ``L``, ``RGB`` or ``RGBA``) from an image file's or a .npy file's bytes."""
    if data[:6] == b"\x93NUMPY":
        return _array_image(np.load(io.BytesIO(data), allow_pickle=False))
    from PIL import UnidentifiedImageError

    try:
        opened = _pil().open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ValueError(
            f"not an image format Pillow knows: {len(data)} bytes starting {data[:8]!r}"
        ) from None
    with opened as im:
        im.load()
        if im.mode in ("L", "RGB", "RGBA"):
            return im.copy()
        bands = im.getbands()
        return im.convert("RGBA" if "A" in bands else "RGB" if len(bands) >= 3 else "L")


def _as_array(value: Any) -> np.ndarray:
    """A nested list, or numpy's object array of row arrays (how Parquet lists arrive), as one
    numeric array."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        return value
    items = list(value)
    if items and isinstance(items[0], (list, tuple, np.ndarray)):
        return np.stack([_as_array(v) for v in items])
    return np.asarray(items)


def _write_once(data: bytes, folder: Path, suffix: str) -> ImageRef:
    digest = hashlib.sha256(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest[:32]}{suffix}"
    if not target.exists():
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return ImageRef(str(target.resolve()), digest)


def resolve_image(value: Any, *, search: Sequence[Path], store: Path) -> ImageRef:
    """Resolve one value of an image column to an :class:`ImageRef`, and decode it once.

    Args:
        value: a path, the bytes of an image file, ``{"bytes": ..., "path": ...}``, or an array.
        search: folders a relative path is looked up in, in order (the data file's, the suite's).
        store: the folder that bytes and arrays are written to (content-addressed).

    Raises:
        DataError: the file is missing, or the image does not decode; the message names the
            file (not the row: the caller adds it).
    """
    if isinstance(value, dict) and value.get("bytes") is None and value.get("path"):
        value = value["path"]  # an HF Image feature that points at a file
    if isinstance(value, dict) and value.get("bytes") is not None:
        value = value["bytes"]
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            _decode(data)
        except (OSError, ValueError, SyntaxError) as e:
            raise DataError(f"the image bytes: {_DOES_NOT_DECODE.format(e)}") from None
        return _write_once(data, store, ".img")
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            a = _as_array(value)
            _array_image(a)
        except ValueError as e:
            raise DataError(f"the image array does not decode ({e})") from None
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
        return _write_once(buf.getvalue(), store, ".npy")
    given = Path(str(value))
    candidates = [given] if given.is_absolute() else [Path(d) / given for d in search]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        tried = " or ".join(repr(str(c)) for c in candidates)
        raise DataError(f"image {str(value)!r}: no such file (looked for {tried})")
    read_image(found)
    return ImageRef(str(found.resolve()), file_sha256(found))
