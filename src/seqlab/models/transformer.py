"""Transformer building blocks shared by ``TransformerSeq2Seq`` and ``GPT``.

Blocks are pre-LN (``x + f(LayerNorm(x))``); attention goes through
``F.scaled_dot_product_attention``. Key/value caches have shape (B, n_heads, T, head_dim), batch
first, so decoding states reorder with one ``index_select`` per tensor. A self-attention cache is
either a plain tensor, grown by ``torch.cat`` (one O(t) copy per step), or a ``KVBuffer``
preallocated to the longest decode and written in place (what ``generate`` uses).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.models.utils import maybe_dropout


class KVBuffer:
    """A self-attention key or value cache preallocated to the longest decode.

    Growing a cache with ``torch.cat`` copies all t cached positions at every step, O(T²) per
    sequence (most of a GPT decoding step: experiments/benchmarks/generation.py). A buffer is allocated once per decode
    with room for every position it can reach, the new positions are written in place at the
    current length, and attention reads the filled prefix.

    A ``KVBuffer`` is a small handle (store, batch, length) over a shared store: ``append`` and
    ``index_select`` write into the store and return a new handle, not a new store. So, unlike
    a tensor state, a state must not be stepped or reordered again once a later state was made
    from it (the decoding loops never do). Each step returns a new handle, so a stepper that
    spots per-input constants by object identity does not mistake the cache for one.

    Args:
        store: (rows, n_heads, capacity, head_dim); rows ``[:batch]`` are the live batch.
        batch: Live rows (rows beyond it are left over from a batch that has since shrunk).
        length: Filled positions.
    """

    def __init__(self, store: Tensor, batch: int, length: int = 0) -> None:
        self.store, self.batch, self.length = store, batch, length

    @classmethod
    def empty(
        cls, batch: int, n_heads: int, capacity: int, head_dim: int, like: Tensor
    ) -> KVBuffer:
        """An unfilled buffer with ``like``'s dtype and device."""
        return cls(like.new_empty(batch, n_heads, capacity, head_dim), batch, 0)

    @property
    def capacity(self) -> int:
        return self.store.size(2)

    @property
    def tensor(self) -> Tensor:
        """The filled prefix, (batch, n_heads, length, head_dim): a view, no copy."""
        return self.store[: self.batch, :, : self.length]

    def append(self, x: Tensor) -> KVBuffer:
        """Writes x (batch, n_heads, n, head_dim) after the filled prefix.

        Past the capacity (a caller that under-sized it) the store is reallocated twice as long:
        slower, never wrong.
        """
        end = self.length + x.size(2)
        store = self.store
        if end > self.capacity:
            store = store.new_empty(
                self.batch, store.size(1), max(end, 2 * self.capacity), x.size(3)
            )
            store[:, :, : self.length] = self.tensor
        store[: self.batch, :, self.length : end] = x
        return KVBuffer(store, self.batch, end)

    def index_select(self, dim: int, index: Tensor) -> KVBuffer:
        """Batch rows ``index`` (B',) of the filled prefix, as ``Tensor.index_select(0, index)``.

        Written back into the same store when its rows suffice (beams changing places, finished
        rows leaving), else into a new store of the same capacity (the batch growing: beams from
        one row each, n samples per input).
        """
        if dim != 0:
            raise ValueError(f"a KVBuffer reorders along the batch dimension only, got dim={dim}")
        rows = self.tensor.index_select(0, index)
        store = self.store
        if index.numel() > store.size(0):
            store = store.new_empty(index.numel(), *store.shape[1:])
        store[: index.numel(), :, : self.length] = rows
        return KVBuffer(store, index.numel(), self.length)

    def rewound(self) -> KVBuffer:
        """The same store emptied: the next ``append`` writes from position 0."""
        return KVBuffer(self.store, self.batch, 0)


Cache = Tensor | KVBuffer
KVCache = tuple[Cache, Cache]


def cached_length(cache: Cache) -> int:
    """Positions held by a self-attention cache of either kind."""
    return cache.length if isinstance(cache, KVBuffer) else cache.size(2)


def _extend(cache: Cache, x: Tensor) -> Cache:
    return cache.append(x) if isinstance(cache, KVBuffer) else torch.cat([cache, x], dim=2)


def _filled(cache: Cache) -> Tensor:
    return cache.tensor if isinstance(cache, KVBuffer) else cache


class MultiHeadAttention(nn.Module):
    """Multi-head self- or cross-attention.

    Self-attention projects q, k, v with one fused linear layer; cross-attention projects the
    query from ``x`` and keys/values from ``memory`` (``project_memory``, once per source when
    decoding incrementally).

    Args:
        d_model: Model size.
        n_heads: Number of heads; must divide ``d_model``.
        dropout: Dropout on attention weights.
        bias: Bias in the projections.
        cross: Cross-attention instead of self-attention.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        cross: bool = False,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads ({n_heads}) must divide d_model ({d_model})")
        self.d_model = d_model
        self.n_heads = n_heads
        self.cross = cross
        self.dropout = dropout
        if cross:
            self.q_proj = nn.Linear(d_model, d_model, bias=bias)
            self.kv_proj = nn.Linear(d_model, 2 * d_model, bias=bias)
        else:
            self.qkv_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x: Tensor) -> Tensor:
        """(B, T, d_model) -> (B, n_heads, T, head_dim)."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, -1).transpose(1, 2)

    def project_memory(self, memory: Tensor) -> KVCache:
        """Cross-attention keys and values, each (B, n_heads, S, head_dim), from memory (B, S, d)."""
        k, v = self.kv_proj(memory).split(self.d_model, dim=2)
        return self._heads(k), self._heads(v)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        kv_cache: KVCache | None = None,
    ) -> tuple[Tensor, KVCache]:
        """Attends from ``x``.

        Args:
            x: (B, T, d_model) queries (and keys/values for self-attention).
            memory: (B, S, d_model) keys/values for cross-attention; unused when ``kv_cache``
                is given.
            attn_mask: Bool mask broadcastable to (B, n_heads, T, T_k), True = attend.
            is_causal: Causal self-attention without a mask tensor; only valid without a cache.
            kv_cache: Self-attention: keys/values of earlier positions (tensors or ``KVBuffer``s),
                extended by this call. Cross-attention: keys/values from ``project_memory``,
                reused as they are.

        Returns:
            Output (B, T, d_model) and the keys/values to cache, each (B, n_heads, T_k, head_dim)
            or a ``KVBuffer`` holding as many positions.
        """
        batch, length, _ = x.shape
        if self.cross:
            q = self._heads(self.q_proj(x))
            k, v = kv_cache if kv_cache is not None else self.project_memory(memory)
        else:
            q, k, v = (self._heads(t) for t in self.qkv_proj(x).split(self.d_model, dim=2))
            if kv_cache is not None:
                k, v = _extend(kv_cache[0], k), _extend(kv_cache[1], v)
        y = F.scaled_dot_product_attention(
            q,
            _filled(k),
            _filled(v),
            attn_mask=attn_mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal,
        )
        y = y.transpose(1, 2).reshape(batch, length, self.d_model)
        return self.out_proj(y), (k, v)


GELUS = {"gelu": "none", "gelu_tanh": "tanh"}  # exact (erf), or GPT-2's tanh approximation


class FeedForward(nn.Module):
    """Position-wise ``fc2(GELU(fc1(x)))``: (B, T, d_model) -> (B, T, d_model)."""

    def __init__(
        self, d_model: int, d_ff: int, bias: bool = True, activation: str = "gelu"
    ) -> None:
        super().__init__()
        if activation not in GELUS:
            raise ValueError(f"activation must be one of {sorted(GELUS)}, got {activation!r}")
        self.fc1 = nn.Linear(d_model, d_ff, bias=bias)
        self.act = nn.GELU(approximate=GELUS[activation])
        self.fc2 = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-LN self-attention block: the Transformer encoder layer, and GPT's (causal) block.

    Args:
        d_model: Model size.
        n_heads: Attention heads.
        d_ff: Feed-forward hidden size.
        dropout: Dropout on attention weights and on each residual branch.
        bias: Bias in linear layers and LayerNorms.
        activation: The feed-forward GELU: ``gelu`` (exact) or ``gelu_tanh`` (GPT-2's).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        bias: bool = True,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_heads, dropout, bias)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.ff = FeedForward(d_model, d_ff, bias, activation)
        self.drop = maybe_dropout(dropout)

    def forward(
        self,
        x: Tensor,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        kv_cache: KVCache | None = None,
    ) -> tuple[Tensor, KVCache]:
        """x (B, T, d_model) -> (B, T, d_model) and this layer's self-attention keys/values."""
        y, kv = self.attn(self.ln1(x), attn_mask=attn_mask, is_causal=is_causal, kv_cache=kv_cache)
        x = x + self.drop(y)
        x = x + self.drop(self.ff(self.ln2(x)))
        return x, kv


class DecoderBlock(nn.Module):
    """Pre-LN decoder layer: causal self-attention, cross-attention to memory, feed-forward.

    Args: as ``TransformerBlock``.
    """

    def __init__(
        self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout, bias)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout, bias, cross=True)
        self.ln3 = nn.LayerNorm(d_model, bias=bias)
        self.ff = FeedForward(d_model, d_ff, bias)
        self.drop = maybe_dropout(dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None,
        memory_mask: Tensor,
        self_cache: KVCache | None = None,
        cross_cache: KVCache | None = None,
    ) -> tuple[Tensor, KVCache]:
        """Decodes target positions.

        Without ``self_cache`` the whole target is processed causally; with it, ``x`` holds the
        next position(s) only. Padding in the target needs no mask: targets are right-padded and
        causality keeps real positions from seeing later pads.

        Args:
            x: (B, T, d_model).
            memory: (B, S, d_model) encoder output; may be None when ``cross_cache`` is given.
            memory_mask: (B, 1, 1, S) bool, True at keys that may be attended.
            self_cache: Self-attention keys/values of earlier positions.
            cross_cache: Precomputed cross-attention keys/values.

        Returns:
            (B, T, d_model) and the extended self-attention keys/values.
        """
        y, kv = self.self_attn(self.ln1(x), is_causal=self_cache is None, kv_cache=self_cache)
        x = x + self.drop(y)
        y, _ = self.cross_attn(self.ln2(x), memory, attn_mask=memory_mask, kv_cache=cross_cache)
        x = x + self.drop(y)
        x = x + self.drop(self.ff(self.ln3(x)))
        return x, kv


class SinusoidalPositionalEmbedding(nn.Module):
    """Fixed sinusoidal positions (Vaswani et al., 2017): positions (...) -> (..., d_model)."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        inv_freq = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * inv_freq)
        table[:, 1::2] = torch.cos(position * inv_freq[: d_model // 2])
        # Not persistent: it is a function of the constructor arguments, not learned state.
        self.register_buffer("table", table, persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        return F.embedding(positions, self.table)


def positional_embedding(kind: str, max_len: int, d_model: int) -> nn.Module:
    """``"learned"`` (an nn.Embedding) or ``"sinusoidal"``: maps positions (...) -> (..., d)."""
    if kind == "learned":
        return nn.Embedding(max_len, d_model)
    if kind == "sinusoidal":
        return SinusoidalPositionalEmbedding(max_len, d_model)
    raise ValueError(f"pos_encoding must be 'learned' or 'sinusoidal', got {kind!r}")


class Embeddings(nn.Module):
    """Token plus positional embeddings, then dropout: tokens (B, T) -> (B, T, d_model).

    With sinusoidal positions the token embeddings are scaled by ``sqrt(d_model)`` (Vaswani et
    al., 2017), since the sinusoids have unit amplitude and N(0, 0.02) token rows would drown.

    Args:
        vocab_size: Vocabulary size.
        d_model: Embedding size.
        max_len: Number of positions.
        pos_encoding: ``"learned"`` or ``"sinusoidal"``.
        dropout: Dropout on the sum.
        padding_idx: Token id whose embedding stays zero and gets no gradient.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        max_len: int,
        pos_encoding: str = "learned",
        dropout: float = 0.0,
        padding_idx: int | None = None,
    ) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        self.position = positional_embedding(pos_encoding, max_len, d_model)
        self.scale = math.sqrt(d_model) if pos_encoding == "sinusoidal" else 1.0
        self.drop = maybe_dropout(dropout)

    def forward(self, tokens: Tensor, positions: Tensor) -> Tensor:
        """tokens (B, T) and positions (T,) or (B, T) -> (B, T, d_model)."""
        x = self.token(tokens)
        if self.scale != 1.0:
            x = x * self.scale
        return self.drop(x + self.position(positions))


def init_gpt2_weights(module: nn.Module, std: float, n_residual_layers: int) -> None:
    """GPT-2 initialisation, in place.

    Linear and embedding weights ~ N(0, std), biases zero, and the projections that write into
    the residual stream (``out_proj``, ``fc2``) get ``std / sqrt(2 * n_residual_layers)`` so the
    stream's variance does not grow with depth. Embedding rows at ``padding_idx`` stay zero.
    """
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, 0.0, std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, 0.0, std)
    residual_std = std / math.sqrt(2 * n_residual_layers)
    for name, param in module.named_parameters():
        if name.endswith(("out_proj.weight", "fc2.weight")):
            nn.init.normal_(param, 0.0, residual_std)
    # Last, because a tied output layer visited after its embedding re-draws the shared tensor.
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.Embedding) and sub.padding_idx is not None:
                sub.weight[sub.padding_idx].zero_()
