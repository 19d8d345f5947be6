"""The one decoding entry point for every model and strategy: ids in, n-best ids and scores out."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.data.tokenizers import EOS_ID, PAD_ID
from seqlab.generation.beam import beam_search
from seqlab.generation.hypotheses import Generation
from seqlab.generation.options import DecodingOptions
from seqlab.generation.processors import build_processors
from seqlab.generation.sampling import sample_search
from seqlab.generation.steppers import is_seq2seq, make_stepper


@torch.inference_mode()
def generate(
    model: nn.Module,
    inputs: Tensor,
    options: DecodingOptions,
    input_lengths: Tensor | None = None,
    cache: bool = True,
    generator: torch.Generator | None = None,
    eos_id: int | None = EOS_ID,
    preallocate: bool = True,
) -> Generation:
    """Decodes a batch with the strategy ``options`` names.

    Args:
        model: an encoder–decoder (``encode``/``init_state``/``step``) or a decoder-only LM
            (``prefill``/``step``); left in whatever train/eval mode it is in.
        inputs: seq2seq: (B, S) sources (ids + <eos>, right-padded with <pad>); LM: (B, T) prompts
            of equal length.
        options: the decoding strategy and its settings.
        input_lengths: (B,) real lengths for the ``a + b · length`` budget; default: non-pad
            count (seq2seq) or T (LM).
        cache: use the models' incremental state (else recompute every prefix: for tests and
            benchmarks).
        generator: random source for sampling; default: a new one seeded with ``options.seed``.
        eos_id: the token that ends a hypothesis; None decodes every input's full budget (an LM
            trained on a raw token stream never learned to stop).
        preallocate: allocate Transformer KV caches once, to the longest the decode can reach,
            and write them in place; False grows them with ``torch.cat`` every step (the former
            behaviour, kept as a reference for tests and benchmarks).

    Returns:
        ``Generation`` of new tokens, (B, N, L) with N = ``n_best`` (1 for greedy).
    """
    if input_lengths is None:
        input_lengths = (
            (inputs != PAD_ID).sum(dim=1)
            if is_seq2seq(model)
            else torch.full((inputs.size(0),), inputs.size(1), device=inputs.device)
        )
    cap = model.max_target_len if is_seq2seq(model) else None
    max_lens = options.max_lengths(input_lengths.to(inputs.device), cap)
    longest = int(max_lens.max()) if preallocate else None
    stepper = make_stepper(model, inputs, cache=cache, max_new_tokens=longest)
    processors = build_processors(options)
    eos_id = -1 if eos_id is None else eos_id  # -1 never matches a token
    if options.strategy == "beam":
        return beam_search(stepper, max_lens, processors, options, eos_id, PAD_ID)
    if options.strategy == "sample" and generator is None:
        generator = torch.Generator(device=inputs.device).manual_seed(options.seed)
    greedy = options.strategy == "greedy"
    n = 1 if greedy else options.n_best
    return sample_search(stepper, max_lens, processors, greedy, n, generator, eos_id, PAD_ID)
