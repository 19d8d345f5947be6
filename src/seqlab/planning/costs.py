"""Cost ledger of one forward pass: matmul FLOPs and the tensors autograd saves for backward.

Each building block returns a ``Cost``; an architecture adds its blocks up (``architectures.py``).
FLOPs count matrix multiplications only (``2·m·k·n`` each), which is what
``torch.utils.flop_counter.FlopCounterMode`` counts too: norms, activations, softmax and the loss
are a few percent at most. Backward costs twice the forward (a gradient for the input and one for
the weight of every matmul), so a training step is ``3 ×`` the forward.

Saved elements follow what PyTorch's kernels keep for backward on the device that runs the step
(checked against ``saved_tensors_hooks`` in tests/test_plan.py): a Linear keeps its input, a
LayerNorm its input and two statistics per row, GELU its input, and attention either its inputs
and log-sum-exp (fused kernels) or, with attention dropout on CPU, the three (B, H, Tq, Tk)
probability tensors of the math path. Tensors shared between ops are counted once.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class Cost:
    """Forward matmul FLOPs and saved-for-backward element counts.

    Attributes:
        flops: Forward FLOPs (2 per multiply-add of every matmul).
        saved: Activation elements kept for backward, in the activation dtype.
        masks: Dropout-mask elements kept for backward (a float mask on CPU, bytes on GPU).
    """

    flops: float = 0.0
    saved: float = 0.0
    masks: float = 0.0
    # Fields may be numpy arrays (one entry per batch); this makes `array * cost` call __rmul__.
    __array_ufunc__ = None

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.flops + other.flops, self.saved + other.saved, self.masks + other.masks)

    def __mul__(self, k: float) -> Cost:
        return Cost(self.flops * k, self.saved * k, self.masks * k)

    __rmul__ = __mul__


def total(costs: list[Cost]) -> Cost:
    """Sum of a list of costs."""
    out = Cost()
    for c in costs:
        out = out + c
    return out


def linear(rows: float, n_in: int, n_out: int, saves_input: bool = True) -> Cost:
    """``rows`` vectors through an (n_in → n_out) Linear; its input is saved unless shared."""
    return Cost(2.0 * rows * n_in * n_out, rows * n_in if saves_input else 0.0)


def layer_norm(rows: float, width: int) -> Cost:
    """LayerNorm keeps its input and a mean and reciprocal std per row."""
    return Cost(0.0, rows * width + 2.0 * rows)


def dropout(numel: float, p: float) -> Cost:
    """Dropout keeps its mask when it is on (p > 0)."""
    return Cost(masks=numel if p > 0 else 0.0)


def attention_core(
    batch: int, heads: int, q_len: int, k_len: int, width: int, math_path: bool
) -> Cost:
    """softmax(QKᵀ)V for every head: FLOPs of QKᵀ and AV, and what SDPA keeps.

    Args:
        batch: Sequences B.
        heads: Heads H.
        q_len: Query positions Tq.
        k_len: Key positions Tk.
        width: Model width d (H · head_dim).
        math_path: Attention dropout on CPU runs SDPA's math path, which keeps copies of q, k
            and v and three (B, H, Tq, Tk) tensors (probabilities, dropout mask, dropped
            probabilities). Fused kernels keep the projections' q, k, v and a log-sum-exp.

    Returns:
        The cost; the attention output, which the out-projection keeps, is not counted here.
    """
    flops = 4.0 * batch * q_len * k_len * width
    saved = batch * (q_len + 2 * k_len) * width
    saved += batch * heads * q_len * (3 * k_len if math_path else 1)
    return Cost(flops, saved)


def rnn_layer(
    steps_x_batch: float, n_in: int, hidden: int, cell: str = "gru", saves_input: bool = True
) -> Cost:
    """One direction of one GRU or LSTM layer over ``steps_x_batch`` (position, sequence) pairs.

    ATen's CPU kernels project all inputs at once, then per step project the previous state and
    combine the gates, keeping 7 (B, H) tensors per step for a GRU (the state, its (B, 3H)
    projection, the r, z, n gates and h - n) and 7 for an LSTM (the state, the i, f, g, o gates,
    the previous memory cell and tanh of the new one).
    """
    gates = {"gru": 3, "lstm": 4}[cell]
    flops = 2.0 * steps_x_batch * (n_in + hidden) * gates * hidden
    saved = (steps_x_batch * n_in if saves_input else 0.0) + 7.0 * steps_x_batch * hidden
    return Cost(flops, saved)
