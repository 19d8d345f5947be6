"""seqlab: config-driven experiments with text sequence models."""

from seqlab.errors import SeqlabError

__version__ = "0.2.0"
__all__ = ["SeqlabError", "__version__"]
