"""Small helpers shared by every model: parameter counts, state reordering, masks."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def count_parameters(module: nn.Module) -> dict[str, int]:
    """Total, embedding and non-embedding parameters, as scaling laws count them.

    Every tensor counts once however many modules share it: a table tied between encoder,
    decoder and output projection is one table. "Embedding" is every ``nn.Embedding``'s weight
    (token and learned positional tables; Kaplan et al.'s non-embedding count leaves them out).

    Returns:
        ``{"total": ..., "embedding": ..., "non_embedding": ..., "trainable": ...}`` in scalar
        parameters ("trainable": those with ``requires_grad``; fewer under ``model.freeze`` or LoRA).
    """
    total = sum(p.numel() for p in module.parameters())  # parameters() yields a tied tensor once
    tables = {
        id(m.weight): m.weight.numel() for m in module.modules() if isinstance(m, nn.Embedding)
    }
    embedding = sum(tables.values())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"total": total, "embedding": embedding, "non_embedding": total - embedding,
            "trainable": trainable}  # fmt: skip


def trainable_names(module: nn.Module) -> set[str]:
    """Names of the parameters that train (a tied tensor under its first name, as
    ``state_dict`` holds it under every name)."""
    return {name for name, p in module.named_parameters() if p.requires_grad}


def reorder_state(state: dict[str, Tensor], index: Tensor) -> dict[str, Tensor]:
    """Selects or reorders the batch rows of a decoding state (beam search).

    Args:
        state: Decoding state whose tensors are all batch-first; a value may also be a
            preallocated ``KVBuffer``, which reorders in place (so ``state`` is then consumed).
        index: (B',) long, row of the old state that each new row copies.

    Returns:
        A new state with every tensor of batch size B'.
    """
    return {name: value.index_select(0, index) for name, value in state.items()}


def attention_mask(src_mask: Tensor) -> Tensor:
    """Turns a token mask into a key mask that never blanks a whole row.

    A source with no real token would leave softmax with only -inf scores and produce NaN, which
    then poisons the whole batch's gradient; such rows attend to all positions instead.

    Args:
        src_mask: (B, S) bool, True at real tokens.

    Returns:
        (B, S) bool, True where attention is allowed.
    """
    return src_mask | ~src_mask.any(dim=-1, keepdim=True)


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose float32 CPU masks come from uniform draws (``rand >= p``).

    PyTorch's CPU dropout draws its mask with ``bernoulli_``, which samples slower than ``rand``
    (experiments/benchmarks/dropout.py); the mask has the same
    distribution and the same 1 / (1 - p) scale, from a different random stream. Elsewhere (CUDA's
    fused kernel, half precision, in place) it is ``nn.Dropout``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.inplace or x.device.type != "cpu" or x.dtype != torch.float32:
            return super().forward(x)
        if self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        return x * torch.rand_like(x).ge_(self.p).div_(1.0 - self.p)


def maybe_dropout(p: float) -> nn.Module:
    """``Dropout(p)``, or a no-op module when ``p == 0`` so training pays nothing for it."""
    return Dropout(p) if p > 0 else nn.Identity()


def check_probability(name: str, value: float) -> None:
    """Raises ValueError unless ``0 <= value <= 1``."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def causal_mask_with_past(q_len: int, past_len: int, device: torch.device) -> Tensor:
    """Boolean SDPA mask (True = attend) for ``q_len`` new queries after ``past_len`` cached keys.

    SDPA's ``is_causal`` aligns the triangle to the top-left corner, which is wrong once a cache
    holds earlier positions; this aligns it to the bottom-right.

    Returns:
        (q_len, past_len + q_len) bool.
    """
    ones = torch.ones(q_len, past_len + q_len, dtype=torch.bool, device=device)
    return ones.tril(diagonal=past_len)
