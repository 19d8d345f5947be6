"""Build a model's nn.Module from its config and tokenizers, without importing Lightning.

`seqlab-generate` loads checkpoints and `seqlab-plan` sizes models through here; importing
Lightning would cost them seconds of start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from seqlab.data.tokenizers import PAD_ID


def instantiate_net(model_cfg: Mapping[str, Any], tokenizers: Mapping[str, Any]) -> nn.Module:
    """The pure nn.Module described by `model.net`, sized from the fitted tokenizers."""
    net_cfg = OmegaConf.create(dict(model_cfg["net"]))
    if model_cfg["family"] == "lm":
        # A prefix LM (seq2seq task on a decoder-only model) reads one shared vocabulary.
        text = tokenizers["text"] if "text" in tokenizers else tokenizers["tgt"]
        return instantiate(net_cfg, vocab_size=text.vocab_size)
    return instantiate(
        net_cfg,
        src_vocab_size=tokenizers["src"].vocab_size,
        tgt_vocab_size=tokenizers["tgt"].vocab_size,
        pad_id=PAD_ID,
    )
