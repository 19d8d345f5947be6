"""Attention over encoder states for recurrent decoders (Bahdanau and Luong styles).

Both modules split the work in two: ``project_keys`` runs once per source sentence, ``forward``
once per decoder step (Bahdanau) or once per target sequence (Luong).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BahdanauAttention(nn.Module):
    """Additive attention (Bahdanau et al., 2015): ``score(q, k) = v^T tanh(W_q q + W_k k)``.

    Args:
        query_size: Size of the decoder state used as query.
        key_size: Size of the encoder states.
        attention_size: Size of the hidden layer inside the score function.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        self.key_proj = nn.Linear(key_size, attention_size, bias=False)
        self.query_proj = nn.Linear(query_size, attention_size, bias=False)
        self.energy = nn.Linear(attention_size, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """Projects encoder states once per source, so each step only projects its query.

        Args:
            keys: (B, S, key_size).

        Returns:
            (B, S, attention_size).
        """
        return self.key_proj(keys)

    def forward(
        self, query: Tensor, proj_keys: Tensor, values: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Attends from one query per sentence.

        Args:
            query: (B, query_size).
            proj_keys: (B, S, attention_size) from ``project_keys``.
            values: (B, S, V).
            mask: (B, S) bool, True where attention is allowed.

        Returns:
            context (B, V) and attention weights (B, S).
        """
        bias = torch.zeros_like(mask, dtype=proj_keys.dtype).masked_fill(~mask, float("-inf"))
        return self.attend(self.query_proj(query), proj_keys, values, bias)

    def attend(
        self, proj_query: Tensor, proj_keys: Tensor, values: Tensor, bias: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``forward`` for a query already projected by ``query_proj`` and an additive mask.

        Recurrent decoders call this once per step: they fold the query projection into the
        matmul their cell already does on the same state, and build the mask once per source.

        Args:
            proj_query: (B, attention_size).
            proj_keys: (B, S, attention_size).
            values: (B, S, V).
            bias: (B, S), 0 where attention is allowed and -inf elsewhere.

        Returns:
            context (B, V) and attention weights (B, S).
        """
        hidden = torch.tanh(proj_keys + proj_query.unsqueeze(1))
        scores = torch.matmul(hidden, self.energy.weight[0]) + bias
        weights = scores.softmax(dim=-1)
        context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)
        return context, weights


class LuongAttention(nn.Module):
    """General multiplicative attention (Luong et al., 2015): ``score(h, k) = h^T W k``.

    Args:
        query_size: Size of the decoder state used as query.
        key_size: Size of the encoder states.
    """

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__()
        self.key_proj = nn.Linear(key_size, query_size, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """Applies ``W`` to the keys once per source instead of to every query.

        Args:
            keys: (B, S, key_size).

        Returns:
            (B, S, query_size).
        """
        return self.key_proj(keys)

    def forward(
        self, query: Tensor, proj_keys: Tensor, values: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Attends from every query position at once (the queries do not depend on the context).

        Args:
            query: (B, T, query_size).
            proj_keys: (B, S, query_size) from ``project_keys``.
            values: (B, S, V).
            mask: (B, S) bool, True where attention is allowed.

        Returns:
            context (B, T, V) and attention weights (B, T, S).
        """
        scores = torch.bmm(query, proj_keys.transpose(1, 2))
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = scores.softmax(dim=-1)
        return torch.bmm(weights, values), weights
