"""What generation and the LightningModules may call on a network: two Protocols and their bases.

An encoder–decoder (``EncoderDecoder``) encodes a source once and decodes from ``init_state`` a
token at a time; a decoder-only model (``DecoderOnly``) reads a prompt in one call (``prefill``)
and continues with ``step``. Both keep their decoding state in a dict of batch-first tensors, so
beam search reorders any model's state the same way. A new architecture subclasses
``Seq2SeqModel`` or ``LanguageModel`` (README: "Adding an architecture").
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from seqlab.models.utils import count_parameters, reorder_state

State = dict[str, Tensor]


@runtime_checkable
class EncoderDecoder(Protocol):
    """A source-to-target network. Its lengths are in tokens, special tokens included."""

    max_source_len: int | None  # longest source it reads (None: any)
    max_target_len: int | None  # most target positions it decodes (None: any)

    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None) -> Tensor:
        """Teacher-forced logits: src (B, S), tgt_in (B, T) -> (B, T, V)."""

    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> dict[str, Tensor]:
        """src (B, S) right-padded -> encoder outputs (``src_mask`` (B, S) among them)."""

    def init_state(self, enc: dict[str, Tensor], capacity: int | None = None) -> State:
        """Decoding state from ``encode``'s outputs; ``capacity`` positions may be preallocated."""

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """tokens (B,) -> next-token logits (B, V) and the new state."""

    def reorder_state(self, state: State, index: Tensor) -> State:
        """The state's batch rows ``index`` (B',)."""


@runtime_checkable
class DecoderOnly(Protocol):
    """A language model over one token stream."""

    block_size: int | None  # longest context (None: any; the stepper slides a window past it)

    def forward(self, idx: Tensor) -> Tensor:
        """idx (B, T) -> logits (B, T, V)."""

    def features(self, idx: Tensor) -> Tensor:
        """idx (B, T) -> final hidden states (B, T, d) (a prefix LM's source representation)."""

    def init_state(
        self, batch_size: int, device: torch.device | str | None = None, capacity: int | None = None
    ) -> State:
        """An empty state; ``capacity`` positions may be preallocated."""

    def prefill(
        self, idx: Tensor, state: State | None = None, last_only: bool = False
    ) -> tuple[Tensor, State]:
        """idx (B, T) after ``state`` -> logits (B, T, V) and the state T positions on;
        ``last_only``: logits (B, 1, V) of the last position only (decoding needs no more)."""

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """tokens (B,) -> next-token logits (B, V) and the new state."""

    def reorder_state(self, state: State, index: Tensor) -> State:
        """The state's batch rows ``index`` (B',)."""


class SequenceModel(nn.Module):
    """What every seqlab network shares: state reordering and parameter counts."""

    masked_logits: bool = False  # some logit columns are always -inf (label smoothing skips them)

    @staticmethod
    def reorder_state(state: State, index: Tensor) -> State:
        """Selects batch rows ``index`` (B',) of every state tensor (a ``KVBuffer`` in place)."""
        return reorder_state(state, index)

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Scalar parameters, tied tensors once; see ``seqlab.models.utils.count_parameters``."""
        counts = count_parameters(self)
        return counts["non_embedding" if exclude_embeddings else "total"]


class Seq2SeqModel(SequenceModel):
    """An ``encoder`` and a ``decoder`` module; decoding states are the decoder's."""

    encoder: nn.Module
    decoder: nn.Module
    max_source_len: int | None = None
    max_target_len: int | None = None

    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> dict[str, Tensor]:
        return self.encoder(src, src_lengths)

    def init_state(self, enc: dict[str, Tensor], capacity: int | None = None) -> State:
        return self.decoder.init_state(enc, capacity)

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        return self.decoder.step(tokens, state)


class LanguageModel(SequenceModel):
    """A decoder-only model: ``step`` is a one-token ``prefill``."""

    block_size: int | None = None

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        logits, state = self.prefill(tokens.unsqueeze(1), state)
        return logits.squeeze(1), state
