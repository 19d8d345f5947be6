"""seqlab: config-driven experiments with text sequence models."""

from seqlab.errors import SeqlabError

__version__ = "0.1.0"
__all__ = ["SeqlabError", "__version__"]
