"""seqlab's GPT ↔ `transformers`' GPT-2: the same network under other names.

GPT-2 stores its linear layers as `Conv1D` (weight of shape in × out, the transpose of
`nn.Linear`), always has biases, and uses the tanh GELU (`gelu_new`); seqlab's GPT exports with
`activation_function` set to its own GELU, so the exported model computes exactly what it did.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from seqlab.models.gpt import GPT

HF_ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": "gelu_new"}  # seqlab's name -> transformers'
SEQLAB_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}
# (seqlab suffix, GPT-2 suffix, stored transposed) for every tensor of block i.
_BLOCK = (
    ("ln1.weight", "ln_1.weight", False),
    ("ln1.bias", "ln_1.bias", False),
    ("attn.qkv_proj.weight", "attn.c_attn.weight", True),
    ("attn.qkv_proj.bias", "attn.c_attn.bias", False),
    ("attn.out_proj.weight", "attn.c_proj.weight", True),
    ("attn.out_proj.bias", "attn.c_proj.bias", False),
    ("ln2.weight", "ln_2.weight", False),
    ("ln2.bias", "ln_2.bias", False),
    ("ff.fc1.weight", "mlp.c_fc.weight", True),
    ("ff.fc1.bias", "mlp.c_fc.bias", False),
    ("ff.fc2.weight", "mlp.c_proj.weight", True),
    ("ff.fc2.bias", "mlp.c_proj.bias", False),
)
_TOP = (
    ("embed.token.weight", "transformer.wte.weight"),
    ("embed.position.weight", "transformer.wpe.weight"),
    ("ln_f.weight", "transformer.ln_f.weight"),
    ("ln_f.bias", "transformer.ln_f.bias"),
)


def _pairs(n_layer: int):
    for ours, theirs in _TOP:
        yield ours, theirs, False
    for i in range(n_layer):
        for ours, theirs, transposed in _BLOCK:
            yield f"blocks.{i}.{ours}", f"transformer.h.{i}.{theirs}", transposed


def gpt2_config(net: GPT, vocab_size: int) -> dict[str, Any]:
    """`GPT2Config` fields describing `net` (as a plain dict)."""
    tied = net.lm_head.weight is net.embed.token.weight
    return {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": vocab_size,
        "n_positions": net.block_size,
        "n_embd": net.n_embd,
        "n_layer": len(net.blocks),
        "n_head": net.n_head,
        "n_inner": net.blocks[0].ff.fc1.out_features,
        "activation_function": HF_ACTIVATIONS[net.activation],
        "layer_norm_epsilon": net.ln_f.eps,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "tie_word_embeddings": tied,
    }


def to_gpt2_state(net: GPT) -> dict[str, Tensor]:
    """GPT-2's state dict for `net`: renamed, Conv1D weights transposed, absent biases as zeros."""
    ours = net.state_dict()
    state = {}
    for name, theirs, transposed in _pairs(len(net.blocks)):
        if name in ours:
            value = ours[name]
        else:  # bias=False: a zero bias computes the same
            weight = ours[name.replace(".bias", ".weight")]
            value = torch.zeros(weight.shape[0])
        state[theirs] = (value.t() if transposed else value).contiguous().clone()
    if net.lm_head.weight is not net.embed.token.weight:
        state["lm_head.weight"] = ours["lm_head.weight"].clone()
    return state


def gpt_arguments(config: dict[str, Any]) -> dict[str, Any]:
    """seqlab GPT's architecture arguments (all but the vocabulary) for a GPT-2 config.json."""
    activation = config.get("activation_function", "gelu_new")
    if activation not in SEQLAB_ACTIVATIONS:
        raise ValueError(f"activation_function {activation!r} has no seqlab equivalent")
    return {
        "block_size": config["n_positions"],
        "n_layer": config["n_layer"],
        "n_head": config["n_head"],
        "n_embd": config["n_embd"],
        "d_ff": config.get("n_inner") or 4 * config["n_embd"],
        "bias": True,
        "tie_embeddings": config.get("tie_word_embeddings", True),
        "activation": SEQLAB_ACTIVATIONS[activation],
    }


def gpt_from_gpt2(config: dict[str, Any], state: dict[str, Tensor], dropout: float = 0.0) -> GPT:
    """seqlab's GPT holding a GPT-2 checkpoint's weights (config.json fields and its tensors)."""
    net = GPT(vocab_size=config["vocab_size"], dropout=dropout, **gpt_arguments(config))
    load_gpt2_state(net, state)
    if config.get("layer_norm_epsilon", 1e-5) != 1e-5:
        for module in net.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.eps = config["layer_norm_epsilon"]
    return net


def load_gpt2_state(net: GPT, state: dict[str, Tensor]) -> None:
    """Copy GPT-2 tensors into `net` (shapes must match; `transformer.` prefixes optional)."""
    state = {k if k.startswith(("transformer.", "lm_head")) else f"transformer.{k}": v
             for k, v in state.items()}  # fmt: skip
    mine = net.state_dict()
    loaded = {}
    for name, theirs, transposed in _pairs(len(net.blocks)):
        if theirs not in state:
            raise KeyError(f"GPT-2 weights have no {theirs}")
        value = state[theirs].t() if transposed else state[theirs]
        if value.shape != mine[name].shape:
            needed = mine[name].t() if transposed else mine[name]
            raise ValueError(f"{theirs}: shape {tuple(state[theirs].shape)}, the config.json it "
                             f"came with needs {tuple(needed.shape)}")  # fmt: skip
        loaded[name] = value
    if "lm_head.weight" in mine and net.lm_head.weight is not net.embed.token.weight:
        loaded["lm_head.weight"] = state.get("lm_head.weight", state["transformer.wte.weight"])
    with torch.no_grad():
        for name, value in loaded.items():
            mine[name].copy_(value)
