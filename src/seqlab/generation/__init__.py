"""Decoding strategies (greedy, sampling, beam search) over the incremental-decoding interface.

``generate(model, inputs, options)`` decodes a batch of token ids with any seqlab model;
``TextGenerator`` (in ``seqlab.generation.text``) goes from texts to texts with a checkpoint.
"""

from seqlab.generation.driver import generate
from seqlab.generation.hypotheses import Generation
from seqlab.generation.options import DecodingOptions

__all__ = ["DecodingOptions", "Generation", "generate"]
