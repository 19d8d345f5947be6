"""Recurrent decoders: without attention (Cho et al., 2014), Bahdanau (additive), Luong (general).

Each runs GRU or LSTM cells and keeps its decoding state in a dict of batch-first tensors
(``seqlab.models.rnn_cells``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.models.attention import BahdanauAttention, LuongAttention
from seqlab.models.rnn_cells import (
    from_rnn,
    gru_update,
    lstm_update,
    recurrent_cell,
    recurrent_layers,
    to_rnn,
)
from seqlab.models.utils import Dropout, attention_mask


def _recurrent_state(enc: dict[str, Tensor]) -> dict[str, Tensor]:
    """The encoder's bridged ``hidden`` (and LSTM ``cell``) states."""
    return {k: enc[k] for k in ("hidden", "cell") if k in enc}


class RNNDecoder(nn.Module):
    """Shared parts: target embedding, output layer, teacher forcing and scheduled sampling.

    Subclasses implement ``init_state``, ``_step`` (one position from an embedded input) and
    ``_teacher_forced`` (a whole gold target, as fast as the architecture allows).

    Args:
        vocab_size: Target vocabulary size.
        embed_dim: Target embedding size.
        hidden_size: RNN size; encoder memory and bridged states have this size too.
        num_layers: Stacked layers.
        dropout: Dropout on embeddings, between layers and before the output layer.
        pad_id: Padding token id.
        cell: ``gru`` or ``lstm``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        pad_id: int,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = Dropout(dropout)
        self.output = nn.Linear(hidden_size, vocab_size)

    def init_state(self, enc: dict[str, Tensor], capacity: int | None = None) -> dict[str, Tensor]:
        """Builds the decoding state from ``RNNEncoder`` outputs (a recurrent state has no
        positions to preallocate: ``capacity`` is ignored)."""
        raise NotImplementedError

    def _step(self, emb: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """One position: emb (B, E) -> logits (B, V) and the new state."""
        raise NotImplementedError

    def _teacher_forced(self, emb: Tensor, state: dict[str, Tensor]) -> Tensor:
        """Whole gold target: emb (B, T, E) -> logits (B, T, V)."""
        raise NotImplementedError

    def forward(
        self, tgt_in: Tensor, enc: dict[str, Tensor], teacher_forcing_ratio: float = 1.0
    ) -> Tensor:
        """Decodes a target batch given encoder outputs.

        Args:
            tgt_in: (B, T) long, starting with <bos>.
            enc: ``RNNEncoder`` outputs.
            teacher_forcing_ratio: Probability of reading the gold token at each step while
                training; otherwise the previous argmax prediction is read. Ignored in eval mode.

        Returns:
            (B, T, V) logits.
        """
        state = self.init_state(enc)
        emb = self.dropout(self.embedding(tgt_in))
        if not self.training or teacher_forcing_ratio >= 1.0:
            return self._teacher_forced(emb, state)
        # One Bernoulli draw per step, shared by the batch; step 0 always reads the gold <bos>.
        use_gold = (torch.rand(tgt_in.size(1)) < teacher_forcing_ratio).tolist()
        steps: list[Tensor] = []
        for t, gold in enumerate(use_gold):
            if t == 0 or gold:
                emb_t = emb[:, t]
            else:
                emb_t = self.dropout(self.embedding(steps[-1].argmax(dim=-1)))
            logits, state = self._step(emb_t, state)
            steps.append(logits)
        return torch.stack(steps, dim=1)

    def step(self, tokens: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """Feeds one token per sentence: tokens (B,) -> logits (B, V) and the new state."""
        return self._step(self.dropout(self.embedding(tokens)), state)

    def _logits(self, hidden: Tensor) -> Tensor:
        return self.output(self.dropout(hidden))


class PlainDecoder(RNNDecoder):
    """No attention (Cho et al., 2014): a fixed summary ``c`` of the source is read at every step.

    ``c`` is the bridged top-layer final encoder state. The RNN reads ``[y_{t-1}; c]`` and the
    output layer reads ``tanh(W [h_t; y_{t-1}; c])``. Since ``c`` is fixed, a gold target runs
    through nn.GRU / nn.LSTM in one call.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        pad_id: int,
        cell: str = "gru",
    ) -> None:
        super().__init__(vocab_size, embed_dim, hidden_size, num_layers, dropout, pad_id, cell)
        self.rnn = recurrent_layers(cell, embed_dim + hidden_size, hidden_size, num_layers, dropout)
        self.readout = nn.Linear(2 * hidden_size + embed_dim, hidden_size)

    def init_state(self, enc: dict[str, Tensor], capacity: int | None = None) -> dict[str, Tensor]:
        """State: ``hidden`` (B, L, H) (LSTM: and ``cell``) and ``context`` (B, H)."""
        return {**_recurrent_state(enc), "context": enc["hidden"][:, -1]}

    def _readout(self, hidden: Tensor, emb: Tensor, context: Tensor) -> Tensor:
        return torch.tanh(self.readout(torch.cat([hidden, emb, context], dim=-1)))

    def _teacher_forced(self, emb: Tensor, state: dict[str, Tensor]) -> Tensor:
        context = state["context"].unsqueeze(1).expand(-1, emb.size(1), -1)
        outputs, _ = self.rnn(torch.cat([emb, context], dim=-1), to_rnn(state))
        return self._logits(self._readout(outputs, emb, context))

    def _step(self, emb: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        context = state["context"]
        output, final = self.rnn(torch.cat([emb, context], dim=-1).unsqueeze(1), to_rnn(state))
        logits = self._logits(self._readout(output.squeeze(1), emb, context))
        return logits, {**state, **from_rnn(final)}


class BahdanauDecoder(RNNDecoder):
    """Additive attention (Bahdanau et al., 2015).

    The query is the previous top-layer state; the context joins the embedding as the first
    cell's input, and the output layer reads ``tanh(W [h_t; y_{t-1}; c_t])``. The context depends
    on the previous state, so this needs a time-step loop. The loop does as few small operations
    as it can, since their count, not their arithmetic, sets the step time of a model this size
    (``experiments/benchmarks/seq2seq_training.py``): the cells' weights are ``nn.GRUCell``'s /
    ``nn.LSTMCell``'s, but the embedding's share of the first cell's input projection runs once
    for the whole target, the attention query is projected in the same matmul as the top cell's
    hidden projection, and the output layers wait until after the loop when the target is gold.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        pad_id: int,
        cell: str = "gru",
    ) -> None:
        super().__init__(vocab_size, embed_dim, hidden_size, num_layers, dropout, pad_id, cell)
        self.embed_dim = embed_dim
        self.attention = BahdanauAttention(hidden_size, hidden_size, hidden_size)
        sizes = [embed_dim + hidden_size] + [hidden_size] * (num_layers - 1)
        self.cells = nn.ModuleList(recurrent_cell(cell, size, hidden_size) for size in sizes)
        self.readout = nn.Linear(2 * hidden_size + embed_dim, hidden_size)

    def init_state(self, enc: dict[str, Tensor], capacity: int | None = None) -> dict[str, Tensor]:
        """State: ``hidden`` (B, L, H) (LSTM: and ``cell``), ``memory`` (B, S, H), ``keys``
        (B, S, H) and ``bias`` (B, S), the additive attention mask (0 or -inf)."""
        mask = attention_mask(enc["src_mask"])
        memory = enc["memory"]
        return {
            **_recurrent_state(enc),
            "memory": memory,
            "keys": self.attention.project_keys(memory),
            "bias": torch.zeros_like(mask, dtype=memory.dtype).masked_fill(~mask, float("-inf")),
        }

    def _recurrence(self, emb: Tensor, state: dict[str, Tensor]):
        """Runs the cells over emb (B, T, E) from the state's ``hidden`` (and ``cell``).

        Returns:
            top-layer states (B, T, H), contexts (B, T, H) and the final state entries.
        """
        first, top = self.cells[0], self.cells[-1]
        # W_ih [y; c] = W_e y + W_c c: the embedding's share for every position at once.
        gi_emb = F.linear(emb, first.weight_ih[:, : self.embed_dim], first.bias_ih)
        w_ctx = first.weight_ih[:, self.embed_dim :]
        # The top cell's hidden projection and the attention query read the same state.
        w_top = torch.cat([top.weight_hh, self.attention.query_proj.weight])
        attention_size = self.attention.query_proj.out_features
        b_top = torch.cat([top.bias_hh, top.bias_hh.new_zeros(attention_size)])
        split = [top.weight_hh.size(0), attention_size]
        lstm = self.cell == "lstm"
        states = list(state["hidden"].unbind(1))
        cells = list(state["cell"].unbind(1)) if lstm else []
        tops, contexts = [], []
        # One unbind, not a slice per step: each slice's backward would fill a whole (B, T, 3H)
        # gradient with zeros.
        for gi_t in gi_emb.unbind(1):
            gh_top, query = torch.addmm(b_top, states[-1], w_top.t()).split(split, dim=1)
            context, _ = self.attention.attend(query, state["keys"], state["memory"], state["bias"])
            x = torch.addmm(gi_t, context, w_ctx.t())
            for layer, cell in enumerate(self.cells):
                if layer > 0:
                    x = F.linear(self.dropout(x), cell.weight_ih, cell.bias_ih)
                if cell is top:
                    gh = gh_top
                else:
                    gh = F.linear(states[layer], cell.weight_hh, cell.bias_hh)
                if lstm:
                    states[layer], cells[layer] = lstm_update(x, gh, cells[layer])
                else:
                    states[layer] = gru_update(x, gh, states[layer])
                x = states[layer]
            tops.append(x)
            contexts.append(context)
        final = {"hidden": torch.stack(states, dim=1)}
        if lstm:
            final["cell"] = torch.stack(cells, dim=1)
        return torch.stack(tops, dim=1), torch.stack(contexts, dim=1), final

    def _readout(self, hidden: Tensor, emb: Tensor, context: Tensor) -> Tensor:
        return torch.tanh(self.readout(torch.cat([hidden, emb, context], dim=-1)))

    def _teacher_forced(self, emb: Tensor, state: dict[str, Tensor]) -> Tensor:
        tops, contexts, _ = self._recurrence(emb, state)
        return self._logits(self._readout(tops, emb, contexts))

    def _step(self, emb: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        emb = emb.unsqueeze(1)
        tops, contexts, final = self._recurrence(emb, state)
        logits = self._logits(self._readout(tops, emb, contexts)).squeeze(1)
        return logits, {**state, **final}


class LuongDecoder(RNNDecoder):
    """General attention (Luong et al., 2015) after the RNN, without input feeding.

    The RNN runs first; its current state queries the source, and the output layer reads the
    attentional state ``tanh(W_c [c_t; h_t])``. The RNN never sees the context, so a gold target
    runs through nn.GRU / nn.LSTM in one call and attention is two batched matmuls.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        pad_id: int,
        cell: str = "gru",
    ) -> None:
        super().__init__(vocab_size, embed_dim, hidden_size, num_layers, dropout, pad_id, cell)
        self.rnn = recurrent_layers(cell, embed_dim, hidden_size, num_layers, dropout)
        self.attention = LuongAttention(hidden_size, hidden_size)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)

    def init_state(self, enc: dict[str, Tensor], capacity: int | None = None) -> dict[str, Tensor]:
        """State: ``hidden`` (B, L, H) (LSTM: and ``cell``), ``memory`` (B, S, H), ``keys``
        (B, S, H), ``mask`` (B, S)."""
        return {
            **_recurrent_state(enc),
            "memory": enc["memory"],
            "keys": self.attention.project_keys(enc["memory"]),
            "mask": attention_mask(enc["src_mask"]),
        }

    def _attend(self, outputs: Tensor, state: dict[str, Tensor]) -> Tensor:
        """RNN outputs (B, T, H) -> attentional states (B, T, H)."""
        context, _ = self.attention(outputs, state["keys"], state["memory"], state["mask"])
        return torch.tanh(self.combine(torch.cat([context, outputs], dim=-1)))

    def _teacher_forced(self, emb: Tensor, state: dict[str, Tensor]) -> Tensor:
        outputs, _ = self.rnn(emb, to_rnn(state))
        return self._logits(self._attend(outputs, state))

    def _step(self, emb: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        output, final = self.rnn(emb.unsqueeze(1), to_rnn(state))
        logits = self._logits(self._attend(output, state)).squeeze(1)
        return logits, {**state, **from_rnn(final)}


DECODERS: dict[str, type[RNNDecoder]] = {
    "none": PlainDecoder,
    "bahdanau": BahdanauDecoder,
    "luong": LuongDecoder,
}
