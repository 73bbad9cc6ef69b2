"""Drift: is today's data still like the data the model was evaluated on?"""

from assay.drift._windows import Window, Windows, tumbling_windows

__all__ = ["Window", "Windows", "tumbling_windows"]
