"""assay: is this fine-tuned model ready for the real world?"""

from assay._version import __version__

__all__ = ["__version__"]
