"""Drift: is today's data still like the data the model was evaluated on?"""

from assay.drift._cbpe import Calibration
from assay.drift._performance import PerformanceEstimate, WindowPerformance, estimate_performance
from assay.drift._windows import Window, Windows, tumbling_windows

__all__ = [
    "Calibration",
    "PerformanceEstimate",
    "Window",
    "WindowPerformance",
    "Windows",
    "estimate_performance",
    "tumbling_windows",
]
