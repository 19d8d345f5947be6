"""Forward cost of every seqlab architecture for one batch, and of one generated token.

Shapes are those of a real batch: ``batch`` sequences, ``tgt_len`` decoder (or LM) positions and
``src_len`` encoder positions, all padded. Packed GRU encoders only compute real source tokens,
so their cost follows ``src_tokens``. Hyperparameters come from the model config's ``net``
section, with the model class's own defaults for keys the config leaves out.

The Throughput callback's MFU uses the 6N convention instead (``seqlab.callbacks.throughput``
says why both exist).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from hydra.utils import get_class

from seqlab.errors import SeqlabError
from seqlab.planning.costs import (
    Cost,
    attention_core,
    dropout,
    layer_norm,
    linear,
    rnn_layer,
    total,
)


@dataclasses.dataclass
class Shapes:
    """One training batch.

    Attributes:
        batch: Sequences B.
        tgt_len: Decoder input (seq2seq) or context (LM) positions T, padded.
        src_len: Encoder positions S, padded (0 for language models).
        src_tokens: Real source tokens in the batch (packed GRU encoders); None = B · S.
    """

    batch: int
    tgt_len: int
    src_len: int = 0
    src_tokens: float | None = None


def hyperparameters(net: Mapping[str, Any]) -> dict[str, Any]:
    """The ``net`` config's keys over the constructor defaults of its ``_target_`` class."""
    cls = get_class(net["_target_"])
    defaults = {
        k: p.default
        for k, p in inspect.signature(cls).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    return {**defaults, **{k: v for k, v in net.items() if not k.startswith("_")}}


def _head(rows: float, width: int, vocab: int, saves_input: bool = True) -> Cost:
    """Output projection plus the log-probabilities cross-entropy keeps for backward."""
    return linear(rows, width, vocab, saves_input) + Cost(saved=rows * vocab)


def _feed_forward(rows: float, d: int, d_ff: int) -> Cost:
    return linear(rows, d, d_ff) + Cost(saved=rows * d_ff) + linear(rows, d_ff, d)  # GELU input


def _self_attention_block(b: int, t: int, d: int, h: int, d_ff: int, p: float, cpu: bool) -> Cost:
    """Pre-LN block: LN, fused qkv, attention, out-proj, dropout, LN, feed-forward, dropout."""
    n = b * t
    return total([
        layer_norm(n, d), linear(n, d, 3 * d), attention_core(b, h, t, t, d, cpu and p > 0),
        linear(n, d, d), dropout(n * d, p),
        layer_norm(n, d), _feed_forward(n, d, d_ff), dropout(n * d, p),
    ])  # fmt: skip


def _decoder_block(b: int, t: int, s: int, d: int, h: int, d_ff: int, p: float, cpu: bool) -> Cost:
    """Self-attention block with cross-attention to the memory between attention and FF."""
    n = b * t
    cross = total([
        layer_norm(n, d), linear(n, d, d), linear(b * s, d, 2 * d, saves_input=False),
        attention_core(b, h, t, s, d, cpu and p > 0), linear(n, d, d), dropout(n * d, p),
    ])  # fmt: skip
    return _self_attention_block(b, t, d, h, d_ff, p, cpu) + cross


def gpt(a: dict, vocab: int, s: Shapes, cpu: bool) -> Cost:
    """GPT on (B, T) windows: embedding dropout, causal blocks, final LayerNorm, (tied) head."""
    b, t, d, p = s.batch, s.tgt_len, a["n_embd"], a["dropout"]
    d_ff = a["d_ff"] or 4 * d
    block = _self_attention_block(b, t, d, a["n_head"], d_ff, p, cpu)
    final = layer_norm(b * t, d) + _head(b * t, d, vocab)
    return dropout(b * t * d, p) + a["n_layer"] * block + final


def hf_gpt_arguments(config: Mapping[str, Any]) -> dict[str, Any]:
    """GPT's cost arguments for a `transformers` config (standard attribute names); a gated
    feed-forward (SiLU: Llama, Qwen) has three matrices, counted as a GELU one 1.5x as wide."""
    from seqlab.models.hf.vocab import hf_config

    c = hf_config(dict(config))
    d = c.hidden_size
    d_ff = getattr(c, "intermediate_size", None) or getattr(c, "n_inner", None) or 4 * d
    gated = getattr(c, "hidden_act", None) in ("silu", "swish")
    return {"n_embd": d, "n_layer": c.num_hidden_layers, "n_head": c.num_attention_heads,
            "d_ff": int(d_ff * 1.5) if gated else d_ff, "dropout": 0.0}  # fmt: skip


def hf_causal_lm(a: dict, vocab: int, s: Shapes, cpu: bool) -> Cost:
    """A `transformers` causal LM, costed as the GPT of its width, depth, heads and feed-forward."""
    return gpt({**a, **hf_gpt_arguments(a["config"])}, vocab, s, cpu)


def transformer_seq2seq(a: dict, vocab: tuple[int, int], s: Shapes, cpu: bool) -> Cost:
    """Encoder over (B, S), decoder over (B, T) with cross-attention; the memory is kept once."""
    b, t, src, d, h, p = s.batch, s.tgt_len, s.src_len, a["d_model"], a["n_heads"], a["dropout"]
    d_ff = a["d_ff"]
    encoder = dropout(b * src * d, p) + layer_norm(b * src, d) + Cost(saved=b * src * d)  # memory
    encoder += a["n_encoder_layers"] * _self_attention_block(b, src, d, h, d_ff, p, cpu)
    decoder = dropout(b * t * d, p) + layer_norm(b * t, d) + _head(b * t, d, vocab[1])
    decoder += a["n_decoder_layers"] * _decoder_block(b, t, src, d, h, d_ff, p, cpu)
    return encoder + decoder


def hf_seq2seq_arguments(config: Mapping[str, Any]) -> dict[str, Any]:
    """TransformerSeq2Seq's cost arguments for a `transformers` encoder–decoder config (BART,
    Marian and T5 names); a gated feed-forward (T5 v1.1) counts as a plain one 1.5x as wide."""
    from seqlab.models.hf.vocab import hf_config

    c = hf_config(dict(config))
    d_ff = next(v for v in (getattr(c, k, None) for k in ("encoder_ffn_dim", "d_ff")) if v)
    decoder = getattr(c, "decoder_layers", None) or getattr(c, "num_decoder_layers", None)
    return {"d_model": c.hidden_size, "n_heads": c.num_attention_heads,
            "n_encoder_layers": c.num_hidden_layers, "n_decoder_layers": decoder or c.num_hidden_layers,
            "d_ff": int(d_ff * 1.5) if getattr(c, "is_gated_act", False) else d_ff,
            "dropout": 0.0}  # fmt: skip


def hf_seq2seq(a: dict, vocab: tuple[int, int], s: Shapes, cpu: bool) -> Cost:
    """A `transformers` encoder–decoder, costed as the TransformerSeq2Seq of its widths and depths."""
    return transformer_seq2seq({**a, **hf_seq2seq_arguments(a["config"])}, vocab, s, cpu)


def _rnn_stack(
    rows: float, n_in: int, hidden: int, layers: int, p: float, cell: str, dirs: int = 1
) -> Cost:
    """Stacked (bi)GRU or LSTM; dropout between layers; each layer's input is kept once."""
    first = rnn_layer(rows, n_in, hidden, cell)
    first += (dirs - 1) * rnn_layer(rows, n_in, hidden, cell, saves_input=False)
    upper = dropout(rows * dirs * hidden, p) + rnn_layer(rows, dirs * hidden, hidden, cell)
    upper += (dirs - 1) * rnn_layer(rows, dirs * hidden, hidden, cell, saves_input=False)
    return first + (layers - 1) * upper


def rnn_lm(a: dict, vocab: int, s: Shapes, cpu: bool) -> Cost:
    """Stacked GRU or LSTM over (B, T) windows, dropout around it, linear head."""
    n, e, h, p = s.batch * s.tgt_len, a["embed_dim"], a["hidden_size"], a["dropout"]
    rnn = _rnn_stack(n, e, h, a["num_layers"], p, a["cell"])
    return dropout(n * e, p) + rnn + dropout(n * h, p) + _head(n, h, vocab)


def _rnn_encoder(a: dict, s: Shapes) -> Cost:
    """Packed (bi)RNN over the real source tokens, direction merge and bridge over padded ones."""
    b, e, h, layers, p = s.batch, a["embed_dim"], a["hidden_size"], a["num_layers"], a["dropout"]
    dirs = 2 if a["bidirectional"] else 1
    real = s.batch * s.src_len if s.src_tokens is None else s.src_tokens
    cost = dropout(b * s.src_len * e, p) + _rnn_stack(real, e, h, layers, p, a["cell"], dirs)
    if dirs == 2:
        cost += linear(b * s.src_len, 2 * h, h)  # both directions -> hidden_size
    bridges = 2 if a["cell"] == "lstm" else 1  # LSTMs bridge their memory cells too
    return cost + bridges * (linear(b * layers, dirs * h, h) + Cost(saved=b * layers * h))


def _bahdanau_step(b: int, src: int, h: int, layers: int, p: float, cell: str) -> Cost:
    """One position of ``BahdanauDecoder._recurrence`` (attention size = hidden size)."""
    gates = {"gru": 3, "lstm": 4}[cell]
    # The top state through the stacked gate + query weights; a GRU's gates keep the output.
    cost = linear(b, h, (gates + 1) * h, saves_input=False)
    cost += Cost(saved=4.0 * b * h if cell == "gru" else 0.0)
    # tanh energies (kept), scores, softmax (kept), context; then the context's share of the
    # first cell (keeps the context).
    cost += Cost(4.0 * b * src * h, b * src * h + b * src) + linear(b, h, gates * h)
    # Every cell keeps its previous state and its gate activations: GRU sigmoid(r, z), tanh(n);
    # LSTM sigmoid(i, f), tanh(g), sigmoid(o), the previous memory cell and tanh of the new one.
    cost += layers * Cost(saved=(4.0 if cell == "gru" else 7.0) * b * h)
    # Cells above the first: dropout, their input projection and, below the top, their hidden
    # projection (whose output a GRU's gates keep).
    upper = dropout(b * h, p) + linear(b, h, gates * h, saves_input=p > 0)
    upper += linear(b, h, gates * h, saves_input=False)
    upper += Cost(saved=3.0 * b * h if cell == "gru" else 0.0)
    return cost + (layers - 1) * upper


def rnn_seq2seq(a: dict, vocab: tuple[int, int], s: Shapes, cpu: bool) -> Cost:
    """GRU or LSTM encoder and a decoder without, with Bahdanau or with Luong attention.

    With ``attention=none`` the encoder's memory projection runs but feeds nothing, so its
    backward never runs; counting it as trained puts the estimate a little high (tests/unit/test_plan.py).
    """
    b, t, src, n = s.batch, s.tgt_len, s.src_len, s.batch * s.tgt_len
    e, h, p, layers, kind, cell = (
        a[k] for k in ("embed_dim", "hidden_size", "dropout", "num_layers", "attention", "cell")
    )
    gates = {"gru": 3, "lstm": 4}[cell]
    readout = linear(n, 2 * h + e, h) + Cost(saved=n * h)  # tanh([h; y; c])
    if kind == "none":  # the RNN reads [y; c] at every position
        decoder = _rnn_stack(n, e + h, h, layers, p, cell) + readout
    elif kind == "bahdanau":  # BahdanauDecoder's step loop, once per target position
        # Keys once per source, the embedding's share of the first cell once per target, and the
        # top cell's hidden weights stacked with the query projection (kept once).
        decoder = linear(b * src, h, h) + linear(n, e, gates * h) + Cost(saved=(gates + 1) * h * h)
        decoder += t * _bahdanau_step(b, src, h, layers, p, cell) + readout
    elif kind == "luong":  # RNN first, then batched scores and context, then combine
        decoder = _rnn_stack(n, e, h, layers, p, cell) + linear(b * src, h, h)
        decoder += Cost(4.0 * b * t * src * h, n * h + b * src * h + b * t * src)
        decoder += linear(n, 2 * h, h) + Cost(saved=n * h)  # tanh(W [c; h])
    else:
        raise SeqlabError(f"seqlab-plan has no cost model for RNN attention {kind!r}")
    # Dropout before the output layer; without it the layer reads the (kept) tanh output.
    logits = dropout(n * h, p) + _head(n, h, vocab[1], saves_input=p > 0)
    return _rnn_encoder(a, s) + dropout(n * e, p) + decoder + logits


MODELS: dict[str, Callable[..., Cost]] = {
    "GPT": gpt,
    "HFCausalLM": hf_causal_lm,
    "RNNLM": rnn_lm,
    "TransformerSeq2Seq": transformer_seq2seq,
    "HFSeq2Seq": hf_seq2seq,
    "RNNSeq2Seq": rnn_seq2seq,
}


def forward_cost(net: Mapping[str, Any], vocab: Any, shapes: Shapes, cpu: bool = True) -> Cost:
    """Forward FLOPs and saved activations of one training batch.

    Args:
        net: The model config's ``net`` section (resolved), with ``_target_``.
        vocab: Vocabulary size (language models) or (source, target) sizes.
        shapes: The batch.
        cpu: Kernels as on CPU (math-path attention with dropout, float dropout masks).
    """
    name = str(net["_target_"]).rsplit(".", 1)[-1]
    if name not in MODELS:
        raise SeqlabError(
            f"seqlab-plan has no cost model for {net['_target_']}; known: {', '.join(MODELS)}"
        )
    return MODELS[name](hyperparameters(net), vocab, shapes, cpu)


def generation_flops(net: Mapping[str, Any], vocab: Any, src_len: float, tgt_len: float) -> float:
    """Forward FLOPs per generated token of one sequence decoded incrementally.

    The encoder and the per-source projections (attention keys, cross-attention keys/values)
    run once per input; their cost is spread over the ``tgt_len`` tokens generated. With a KV
    cache, position i attends to i keys instead of the full square a teacher-forced pass computes.
    Beam search and sampling of k sequences cost this per hypothesis.
    """
    t, s = max(1, round(float(tgt_len))), max(1, round(float(src_len)))
    flops = forward_cost(net, vocab, Shapes(1, t, s, s)).flops
    a, name = hyperparameters(net), str(net["_target_"]).rsplit(".", 1)[-1]
    if name == "HFCausalLM":
        a, name = hf_gpt_arguments(a["config"]), "GPT"
    if name == "HFSeq2Seq":
        a, name = hf_seq2seq_arguments(a["config"]), "TransformerSeq2Seq"
    if name in ("GPT", "TransformerSeq2Seq"):
        d = a["n_embd"] if name == "GPT" else a["d_model"]
        layers = a["n_layer"] if name == "GPT" else a["n_decoder_layers"]
        flops -= layers * 2.0 * t * (t - 1) * d  # Σᵢ 4·i·d instead of 4·t·t·d per layer
    return flops / t
