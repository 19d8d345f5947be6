"""Exact match on token ids, up to the end-of-sequence token."""

from __future__ import annotations

import torch
from torchmetrics import Metric


class ExactMatch(Metric):
    """Share of hypotheses whose tokens equal the reference's, up to the end-of-sequence token."""

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("correct", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, hyp: torch.Tensor, ref: torch.Tensor, pad_id: int, eos_id: int) -> None:
        """Args: hyp (B, L) and ref (B, L') token ids; anything after the first eos is ignored."""
        self.correct += exact_match_rows(hyp, ref, pad_id, eos_id).sum()
        self.total += hyp.size(0)

    def compute(self) -> torch.Tensor:
        return self.correct.float() / self.total.clamp(min=1)


def exact_match_rows(
    hyp: torch.Tensor, ref: torch.Tensor, pad_id: int, eos_id: int
) -> torch.Tensor:
    """(B,) bool: row i of hyp (B, L) equals row i of ref (B, L') up to their first eos."""
    hyp, ref = _until_eos(hyp, pad_id, eos_id), _until_eos(ref, pad_id, eos_id)
    width = max(hyp.size(1), ref.size(1))
    hyp = torch.nn.functional.pad(hyp, (0, width - hyp.size(1)), value=pad_id)
    ref = torch.nn.functional.pad(ref, (0, width - ref.size(1)), value=pad_id)
    return (hyp == ref).all(dim=1)


def _until_eos(ids: torch.Tensor, pad_id: int, eos_id: int) -> torch.Tensor:
    """Replace the first eos and everything after it with padding."""
    after = (ids == eos_id).cumsum(dim=1) > 0
    return ids.masked_fill(after, pad_id)
