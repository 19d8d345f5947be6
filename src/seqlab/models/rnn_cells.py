"""GRU and LSTM behind one interface: building the layers, the state layout, the cell updates.

Decoding states are dicts of batch-first tensors: ``hidden`` (B, L, H), and for LSTMs also
``cell`` (B, L, H), their memory cells. ``nn.GRU`` / ``nn.LSTM`` take (L, B, H) tensors (an
``(h, c)`` pair for LSTMs); ``to_rnn`` and ``from_rnn`` convert at the call.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

CELLS = ("gru", "lstm")
GATES = {"gru": 3, "lstm": 4}  # projections per unit: GRU reset, update, new; LSTM i, f, g, o


def check_cell(cell: str) -> None:
    """Raises ValueError unless ``cell`` is ``gru`` or ``lstm``."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")


def recurrent_layers(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    dropout: float,
    bidirectional: bool = False,
) -> nn.GRU | nn.LSTM:
    """A batch-first ``nn.GRU`` or ``nn.LSTM`` with dropout between its layers."""
    check_cell(cell)
    kind = nn.GRU if cell == "gru" else nn.LSTM
    return kind(
        input_size,
        hidden_size,
        num_layers,
        batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
    )


def recurrent_cell(cell: str, input_size: int, hidden_size: int) -> nn.GRUCell | nn.LSTMCell:
    """One ``nn.GRUCell`` or ``nn.LSTMCell``."""
    check_cell(cell)
    return (nn.GRUCell if cell == "gru" else nn.LSTMCell)(input_size, hidden_size)


def to_rnn(state: dict[str, Tensor]) -> Tensor | tuple[Tensor, Tensor]:
    """State ``hidden`` (and ``cell``) (B, L, H) -> nn.GRU's / nn.LSTM's (L, B, H) layout."""
    hidden = state["hidden"].transpose(0, 1).contiguous()
    if "cell" not in state:
        return hidden
    return hidden, state["cell"].transpose(0, 1).contiguous()


def from_rnn(final: Tensor | tuple[Tensor, Tensor]) -> dict[str, Tensor]:
    """nn.GRU's final ``h_n`` or nn.LSTM's ``(h_n, c_n)`` (L, B, H) -> batch-first state entries."""
    if isinstance(final, tuple):
        return {"hidden": final[0].transpose(0, 1), "cell": final[1].transpose(0, 1)}
    return {"hidden": final.transpose(0, 1)}


def gru_update(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """One ``nn.GRUCell`` update from its input and hidden projections.

    Args:
        gi: (B, 3H) ``W_ih x + b_ih``, gates in PyTorch's order (reset, update, new).
        gh: (B, 3H) ``W_hh h + b_hh``.
        h: (B, H) previous state.

    Returns:
        (B, H) new state ``(1 - z) * n + z * h``.
    """
    size = h.size(-1)
    # split / chunk rather than slicing: their backward is one concatenation, where every
    # slice's backward fills a zero tensor of the whole input.
    gi_rz, gi_n = gi.split([2 * size, size], dim=1)
    gh_rz, gh_n = gh.split([2 * size, size], dim=1)
    reset, update = torch.sigmoid(gi_rz + gh_rz).chunk(2, dim=1)
    return torch.lerp(torch.tanh(gi_n + reset * gh_n), h, update)


def lstm_update(gi: Tensor, gh: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One ``nn.LSTMCell`` update from its input and hidden projections.

    Args:
        gi: (B, 4H) ``W_ih x + b_ih``, gates in PyTorch's order (input, forget, cell, output).
        gh: (B, 4H) ``W_hh h + b_hh``.
        c: (B, H) previous memory cell.

    Returns:
        The new state ``o * tanh(c')`` and memory cell ``c' = f * c + i * g``, (B, H) each.
    """
    size = c.size(-1)
    sigmoid_in, cell_in, out_in = (gi + gh).split([2 * size, size, size], dim=1)
    input_gate, forget_gate = torch.sigmoid(sigmoid_in).chunk(2, dim=1)
    c = torch.addcmul(forget_gate * c, input_gate, torch.tanh(cell_in))
    return torch.sigmoid(out_in) * torch.tanh(c), c
