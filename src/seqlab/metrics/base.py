"""The interface every text metric shares: strings in, named scores out, states that sync under DDP."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from torch import Tensor
from torchmetrics import Metric

# Per-example scores in [0, 1] are summed as integers in units of 1e-9: exact and order-independent,
# so one process and N synced processes agree bit for bit, and the state fits any device (MPS has no
# float64).
NANO = 10**9


class TextMetric(Metric):
    """A corpus metric over decoded text with one or more references per example.

    Subclasses keep only tensor states registered with ``add_state`` (sum / min / max reductions),
    so ``compute()`` gives the same value on one process as on several after DDP sync.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    @abstractmethod
    def update(self, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
        """Args: hyps, one string per example; refs, for each example a non-empty list of references."""

    @abstractmethod
    def compute(self) -> dict[str, Tensor]:
        """Named scores, e.g. ``{"bleu": tensor(27.3)}``."""

    def signature(self) -> str | None:
        """sacreBLEU's reproducibility signature, for metrics that have one; else None."""
        return None


def check_pairs(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    """Reject the shapes that would silently score the wrong thing (a bare string as a reference
    list would be read as one reference per character)."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference lists")
    for i, (hyp, ref_list) in enumerate(zip(hyps, refs, strict=True)):
        if not isinstance(hyp, str):
            raise TypeError(f"hypothesis {i} is {type(hyp).__name__}, expected str")
        if isinstance(ref_list, str) or not ref_list:
            raise TypeError(f"references of example {i} must be a non-empty list of strings")
        if not all(isinstance(r, str) for r in ref_list):
            raise TypeError(f"references of example {i} must all be strings")
