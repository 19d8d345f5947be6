"""What every decoding strategy returns: n-best token ids with their scores."""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor


@dataclasses.dataclass
class Generation:
    """Hypotheses of a batch, best first.

    Attributes:
        tokens: (B, N, L) long new tokens, <eos> included when produced, <pad> after it.
        lengths: (B, N) long number of new tokens (<eos> included).
        log_probs: (B, N) float summed log-probabilities of the tokens, under the distribution the
            tokens were chosen from (after repetition penalty / n-gram bans / warpers).
        scores: (B, N) float ranking score: ``log_probs`` divided by the length penalty for beam
            search, ``log_probs`` for greedy and sampling.
    """

    tokens: Tensor
    lengths: Tensor
    log_probs: Tensor
    scores: Tensor

    @property
    def best(self) -> Tensor:
        """(B, L) the first hypothesis of every input."""
        return self.tokens[:, 0]


class Outputs:
    """Preallocated (rows, L) buffers that rows are written into as they finish."""

    def __init__(self, rows: int, max_len: int, pad_id: int, device: torch.device) -> None:
        self.tokens = torch.full((rows, max_len), pad_id, dtype=torch.long, device=device)
        self.lengths = torch.zeros(rows, dtype=torch.long, device=device)
        self.log_probs = torch.zeros(rows, device=device)
        self.scores = torch.zeros(rows, device=device)

    def write(
        self, rows: Tensor, tokens: Tensor, lengths: Tensor, log_probs: Tensor, scores: Tensor
    ) -> None:
        """Rows (R,) receive tokens (R, t <= L) and their lengths / log-probs / scores (R,)."""
        self.tokens[rows, : tokens.size(1)] = tokens
        self.lengths[rows], self.log_probs[rows], self.scores[rows] = lengths, log_probs, scores

    def result(self, batch: int, n: int) -> Generation:
        """Reshape rows ordered input-major into (B, N, ...), trimmed to the longest hypothesis."""
        width = max(int(self.lengths.max()), 1) if self.lengths.numel() else 1
        return Generation(
            tokens=self.tokens[:, :width].reshape(batch, n, width),
            lengths=self.lengths.view(batch, n),
            log_probs=self.log_probs.view(batch, n),
            scores=self.scores.view(batch, n),
        )
