"""Perturbations of text, image and tabular inputs, deterministic for a seed, with the word lists
they need. See docs/robustness.md.

Example:
    >>> from assay.perturb import parse_recipe, perturb_inputs
    >>> perturb_inputs(["I do not like it"], parse_recipe("uppercase"), ids=["1"])
    ['I DO NOT LIKE IT']
"""

from assay.perturb import (  # noqa: F401  (importing registers the built-in perturbations)
    _image,
    _tabular,
    _text,
)
from assay.perturb._apply import Variant, apply_variant, parse_recipe, perturb_inputs
from assay.perturb._base import (
    PerturbationDef,
    PerturbationSpec,
    PerturbEnv,
    get_perturbation,
    perturbation_names,
    register_perturbation,
    rng_for,
)
from assay.perturb._file import perturb_file
from assay.perturb._wordlists import WordLists, load_misspellings, load_synonyms

__all__ = [
    "PerturbEnv",
    "PerturbationDef",
    "PerturbationSpec",
    "Variant",
    "WordLists",
    "apply_variant",
    "get_perturbation",
    "load_misspellings",
    "load_synonyms",
    "parse_recipe",
    "perturb_file",
    "perturb_inputs",
    "perturbation_names",
    "register_perturbation",
    "rng_for",
]
