"""Greedy decoding over the models' incremental-decoding interface (encode / init_state / step)."""

from __future__ import annotations

import torch
from torch import nn


def max_decode_len(src_lengths: torch.Tensor, a: float, b: float, cap: int | None) -> int:
    """fairseq's rule: at most a + b · (longest source) tokens, and never past the model's cap."""
    limit = int(a + b * int(src_lengths.max()))
    return min(limit, cap) if cap else limit


@torch.no_grad()
def greedy_decode(
    model: nn.Module, src: torch.Tensor, max_len: int, bos_id: int, eos_id: int, pad_id: int
) -> torch.Tensor:
    """Pick the most likely token at each step, batched over sentences.

    Args:
        model: a seq2seq model with encode / init_state / step.
        src: (B, S) source ids.

    Returns:
        (B, L) generated ids, L ≤ max_len; rows are padded after their eos.
    """
    state = model.init_state(model.encode(src))
    tokens = torch.full((src.size(0),), bos_id, dtype=torch.long, device=src.device)
    finished = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_len):
        logits, state = model.step(tokens, state)
        tokens = logits.argmax(dim=-1).masked_fill(finished, pad_id)
        out.append(tokens)
        finished |= tokens == eos_id
        if bool(finished.all()):
            break
    return torch.stack(out, dim=1)
