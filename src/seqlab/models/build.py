"""Build a network from its ``model`` config: the ``net`` section names the class (``_target_``)
and its arguments; the vocabulary sizes come from the fitted tokenizers.

Plain Python, so generation and planning build networks without Lightning or Hydra.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from torch import nn


def _net_class(target: str) -> type[nn.Module]:
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def instantiate_net(
    model_cfg: Mapping[str, Any], tokenizers: Mapping[str, Any], pad_id: int
) -> nn.Module:
    """The pure nn.Module that ``model.net`` describes (a plain mapping, interpolations resolved).

    Args:
        model_cfg: The ``model`` section: ``family`` and ``net``.
        tokenizers: Role -> anything with a ``vocab_size``.
        pad_id: The padding id of the vocabularies (encoder–decoders mask it).
    """
    net = dict(model_cfg["net"])
    cls = _net_class(net.pop("_target_"))
    if model_cfg["family"] == "lm":
        # A prefix LM (seq2seq task on a decoder-only model) reads one shared vocabulary.
        text = tokenizers["text"] if "text" in tokenizers else tokenizers["tgt"]
        return cls(vocab_size=text.vocab_size, **net)
    return cls(
        src_vocab_size=tokenizers["src"].vocab_size,
        tgt_vocab_size=tokenizers["tgt"].vocab_size,
        pad_id=pad_id,
        **net,
    )
