"""A fit recipe: what the cv check refits on each fold's training rows (``checks.cv.fit``).

The check reads it from the suite; the fitting service (``assay.models._fitting``) turns it into
models. It lives here, below both, so that neither imports the other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FitRecipe", "TransformersFit"]


class TransformersFit(BaseModel):
    """Options of ``fit: transformers``: ``base`` checkpoint folder (default MiniLM), ``epochs``,
    ``max_rows`` (training rows per fold, a seeded sample), ``max_length`` (tokens), ``batch_size``
    and ``lr``."""

    model_config = ConfigDict(extra="forbid")

    base: str | None = None
    epochs: int = Field(default=1, ge=1)
    max_rows: int | None = Field(default=2000, ge=10)
    max_length: int = Field(default=128, ge=8)
    batch_size: int = Field(default=16, ge=1)
    lr: float = Field(default=5e-5, gt=0)


class FitRecipe(BaseModel):
    """What to fit on training rows.

    Attributes:
        fit: ``sklearn`` (a fresh clone of the evaluated model's estimator),
            ``sklearn:path.joblib`` (a clone of the estimator in that file; needs ``trust``),
            ``python:module:function`` (or ``module:function``, ``path/file.py:function``: a
            function of the training rows, a pandas DataFrame, returning a model) or
            ``transformers`` (a classification head fine-tuned on one text column).
        data: the dataset whose rows are fitted on; ``fit: transformers`` reads its input and
            label columns.
        transformers: the options of ``fit: transformers``.
        where: the suite path of the check that holds the recipe, for error messages.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fit: str = "sklearn"
    data: str
    transformers: TransformersFit = Field(default_factory=TransformersFit)
    where: str = "checks.cv"
