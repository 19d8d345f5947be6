"""Logits processors: small callables ``(logits (N, V), generated (N, t)) -> logits (N, V)``.

Each one does a single thing, batched over all rows (sentences × beams) with no Python loop over
rows; ``build_processors`` composes the ones a ``DecodingOptions`` asks for, in the order
Hugging Face applies them: penalties and bans first, then the sampling warpers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from seqlab.generation.options import DecodingOptions
from seqlab.generation.select import top_k_rows

LogitsProcessor = Callable[[Tensor, Tensor], Tensor]
NEG_INF = float("-inf")


class Temperature:
    """Divides logits by ``t``: < 1 sharpens the distribution, > 1 flattens it."""

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, logits: Tensor, generated: Tensor) -> Tensor:
        return logits / self.temperature


class TopK:
    """Keeps the ``k`` largest logits of each row (ties at the k-th value are all kept)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, logits: Tensor, generated: Tensor) -> Tensor:
        if self.k >= logits.size(-1):
            return logits
        kth = top_k_rows(logits, self.k)[0][:, -1:]
        return logits.masked_fill(logits < kth, NEG_INF)


class TopP:
    """Nucleus filtering (Holtzman et al., 2020): the smallest set of most likely tokens whose
    probability reaches ``p``; the most likely token always survives."""

    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, logits: Tensor, generated: Tensor) -> Tensor:
        if self.p >= 1.0:
            return logits
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # Mass strictly before each token; a token is dropped once that already reaches p.
        before = probs.cumsum(dim=-1) - probs
        drop_sorted = before >= self.p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        return logits.masked_fill(drop, NEG_INF)


class RepetitionPenalty:
    """CTRL's penalty (Keskar et al., 2019) on every token already generated in the row:
    positive logits are divided by ``penalty``, negative ones multiplied by it."""

    def __init__(self, penalty: float) -> None:
        self.penalty = penalty

    def __call__(self, logits: Tensor, generated: Tensor) -> Tensor:
        if generated.size(1) == 0:
            return logits
        seen = logits.gather(-1, generated)
        seen = torch.where(seen > 0, seen / self.penalty, seen * self.penalty)
        # Duplicates in `generated` write the same value, so scatter order does not matter.
        return logits.scatter(-1, generated, seen)


class NoRepeatNGram:
    """Bans any token that would repeat an n-gram already in the row (fairseq / HF semantics).

    All rows are handled at once: the row's n-grams come from ``unfold``, those whose first n-1
    tokens equal the row's last n-1 tokens ban their last token.
    """

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, logits: Tensor, generated: Tensor) -> Tensor:
        n, length = self.n, generated.size(1)
        if length < n:  # no complete n-gram yet
            return logits
        grams = generated.unfold(1, n, 1)  # (N, W, n), W = length - n + 1
        prefix = generated[:, length - n + 1 :]  # (N, n-1); empty when n == 1
        match = (grams[:, :, :-1] == prefix.unsqueeze(1)).all(dim=-1)  # (N, W)
        # scatter_add rather than scatter: several n-grams may share a last token.
        banned = torch.zeros_like(logits).scatter_add_(-1, grams[:, :, -1], match.to(logits.dtype))
        return logits.masked_fill(banned > 0, NEG_INF)


def build_processors(options: DecodingOptions) -> list[LogitsProcessor]:
    """The processors ``options`` switches on; off values (1, 0) add nothing."""
    chain: list[LogitsProcessor] = []
    if options.repetition_penalty != 1.0:
        chain.append(RepetitionPenalty(options.repetition_penalty))
    if options.no_repeat_ngram_size > 0:
        chain.append(NoRepeatNGram(options.no_repeat_ngram_size))
    if options.strategy == "sample":
        if options.temperature != 1.0:
            chain.append(Temperature(options.temperature))
        if options.top_k > 0:
            chain.append(TopK(options.top_k))
        if options.top_p < 1.0:
            chain.append(TopP(options.top_p))
    return chain


def apply_processors(
    processors: Sequence[LogitsProcessor], logits: Tensor, generated: Tensor
) -> Tensor:
    """Runs the chain in order."""
    for processor in processors:
        logits = processor(logits, generated)
    return logits
