"""Drift: is today's data still like the data the model was evaluated on?

``detect_drift`` compares a current table with a reference, column by column (numbers,
categories, text; features, predictions, probabilities and labels), corrects for testing many
columns, reports data quality beside drift, and repeats it per tumbling window. Per-window
sketches (``NumericSketch``, ``CategoricalSketch``) add up across windows.
``estimate_performance`` estimates a classifier's performance per window before labels arrive
(CBPE; binary, or multiclass with one probability column per class), and sets it beside the
realised performance once they do.
"""

from assay.drift._cbpe import Calibration
from assay.drift._cbpe_multiclass import MULTICLASS_METRICS, MulticlassCalibration
from assay.drift._detect import DEFAULT_THRESHOLDS, METHODS, SMALL_SAMPLE, Method, detect_drift
from assay.drift._performance import PerformanceEstimate, WindowPerformance, estimate_performance
from assay.drift._result import ColumnDrift, ColumnQuality, Counted, DriftResult, WindowDrift
from assay.drift._sketch import CategoricalSketch, NumericSketch
from assay.drift._text import TextDrift, text_drift
from assay.drift._windows import Window, Windows, tumbling_windows

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "MULTICLASS_METRICS",
    "SMALL_SAMPLE",
    "Calibration",
    "CategoricalSketch",
    "ColumnDrift",
    "ColumnQuality",
    "Counted",
    "DriftResult",
    "Method",
    "MulticlassCalibration",
    "NumericSketch",
    "PerformanceEstimate",
    "TextDrift",
    "Window",
    "WindowDrift",
    "WindowPerformance",
    "Windows",
    "detect_drift",
    "estimate_performance",
    "text_drift",
    "tumbling_windows",
]
