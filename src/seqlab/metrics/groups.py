"""Accuracy per group of examples (e.g. per bAbI task) and its mean over groups."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric


class GroupedAccuracy(Metric):
    """Share of correct examples in each group, plus their unweighted ``mean`` over groups.

    Groups that saw no example are left out of the result and of the mean (the mean of nothing is
    NaN).

    Args:
        groups: group names, in the order of the indices passed to ``update``.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    def __init__(self, groups: Sequence[str], **kwargs):
        super().__init__(**kwargs)
        self.groups = list(groups)
        if len(set(self.groups)) != len(self.groups) or "mean" in self.groups:
            raise ValueError(f"group names must be distinct and not 'mean': {self.groups}")
        zeros = torch.zeros(len(self.groups), dtype=torch.long)
        self.add_state("correct", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("total", default=zeros.clone(), dist_reduce_fx="sum")

    def update(self, correct: Tensor, group_index: Tensor) -> None:
        """Args: correct (B,) bool, whether each example is right; group_index (B,) long, its group."""
        if correct.shape != group_index.shape or correct.dim() != 1:
            raise ValueError(
                f"correct {tuple(correct.shape)} and group_index "
                f"{tuple(group_index.shape)} must both have shape (B,)"
            )
        n = len(self.groups)
        if group_index.numel() and not (int(group_index.min()) >= 0 and int(group_index.max()) < n):
            raise ValueError(f"group_index outside [0, {n})")
        self.correct = self.correct.index_add(0, group_index, correct.long())
        self.total = self.total.index_add(0, group_index, torch.ones_like(group_index))

    def compute(self) -> dict[str, Tensor]:
        seen = self.total > 0
        acc = self.correct.float() / self.total.clamp(min=1)
        out = {g: acc[i] for i, g in enumerate(self.groups) if seen[i]}
        out["mean"] = acc[seen].mean()
        return out
