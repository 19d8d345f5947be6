"""Selecting the k largest entries of wide rows (vocabulary-sized logits) quickly on CPU."""

from __future__ import annotations

import torch
from torch import Tensor


def top_k_rows(x: Tensor, k: int, block: int = 64) -> tuple[Tensor, Tensor]:
    """``x.topk(k, dim=-1)`` for (N, V) rows with V >> k: values (N, k) descending and indices.

    ``torch.topk`` on CPU costs a partial sort per row, several times a plain max over it. Here
    one vectorised max per block of ``block`` columns finds the k blocks with the largest
    maxima; those blocks (plus the ragged tail) hold the k largest entries, since any block
    outside them has k larger maxima above its own. Only k · block columns are then sorted.
    Entries that tie may be picked differently from ``torch.topk``.
    """
    rows, width = x.shape
    n_blocks = width // block
    if n_blocks < 4 * k:  # narrow rows: nothing to gain
        return x.topk(k, dim=-1)
    cut = n_blocks * block
    blocks = x[:, :cut].view(rows, n_blocks, block)
    best = blocks.amax(dim=-1).topk(k, dim=-1).indices  # (N, k)
    values = blocks.gather(1, best[..., None].expand(-1, -1, block)).view(rows, k * block)
    offsets = torch.arange(block, device=x.device)
    cols = (best[..., None] * block + offsets).view(rows, k * block)
    if cut < width:
        values = torch.cat([values, x[:, cut:]], dim=1)
        tail = torch.arange(cut, width, device=x.device).expand(rows, -1)
        cols = torch.cat([cols, tail], dim=1)
    top, pos = values.topk(k, dim=-1)
    return top, cols.gather(1, pos)
