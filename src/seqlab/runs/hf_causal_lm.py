"""`model=hf_causal_lm`: settle the `transformers` architecture before a run starts.

With `model.pretrained`, the folder (or hub snapshot) decides the architecture: its config.json
goes into `model.config` as a plain dict, so the run's config.yaml and every checkpoint rebuild
the network with `from_config`, offline. With `model.pretrained=null`, `model.config` describes
a network trained from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from seqlab.errors import SeqlabError

HF_TARGET = "seqlab.models.hf.causal_lm.HFCausalLM"


def _positions(config) -> int | None:
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)


def apply_hf_pretrained(cfg: DictConfig) -> dict[str, Callable[[Any], None]] | None:
    """Set `model.config` from `model.pretrained`; return how to load its weights into the built
    network (None when there are none to load: another model, or one from scratch)."""
    if cfg.model.net.get("_target_") != HF_TARGET:
        return None
    from seqlab.models.hf.causal_lm import hf_config, plain_config

    name = cfg.model.get("pretrained")
    if name:
        from transformers import AutoConfig

        from seqlab.hub import resolve_pretrained

        folder = resolve_pretrained(str(name))
        try:
            config = AutoConfig.from_pretrained(folder)
        except (OSError, ValueError, KeyError) as e:
            raise SeqlabError(f"model.pretrained={name}: {folder} has no usable config.json "
                              f"({str(e).splitlines()[0][:100]})") from None  # fmt: skip
        with open_dict(cfg):
            cfg.model.config = plain_config(config)
    elif cfg.model.get("config") is None:
        raise SeqlabError(
            "model=hf_causal_lm needs model.pretrained=<hub name or folder>, or "
            "model.pretrained=null with model.config={model_type: gpt2, n_layer: 2, ...}"
        )
    else:
        fields = _from_scratch(cfg)
        try:
            config = hf_config(fields)
        except (ValueError, TypeError, AttributeError) as e:
            raise SeqlabError(f"config key 'model.config': {e}; give a transformers config with "
                              "its model_type, e.g. {model_type: gpt2, n_layer: 2}") from None  # fmt: skip
        eos = (
            config.eos_token_id[0] if isinstance(config.eos_token_id, list) else config.eos_token_id
        )
        if "vocab_size" in fields and (eos is None or not 0 <= eos < config.vocab_size):
            raise SeqlabError(f"config key 'model.config.eos_token_id': {eos} is not an id of the "
                              f"model's {config.vocab_size} tokens; set it to the tokenizer's eos")  # fmt: skip
        with open_dict(cfg):
            cfg.model.config = fields
    positions = _positions(config)
    if positions and cfg.task.get("block_size") and cfg.task.block_size > positions:
        raise SeqlabError(f"task.block_size={cfg.task.block_size} exceeds the model's {positions} "
                          f"positions; set task.block_size<={positions}")  # fmt: skip
    if not name:
        return None
    return {"load": lambda net: _load_weights(net, folder)}


def _from_scratch(cfg: DictConfig) -> dict[str, Any]:
    """`model.config`, with the vocabulary size and eos / bos ids of `tokenizer=pretrained`'s
    tokenizer where it leaves them out (a model from scratch on a model's own tokenizer)."""
    fields = OmegaConf.to_container(cfg.model.config, resolve=True)
    if not isinstance(fields, dict):
        raise SeqlabError(f"config key 'model.config': expected a mapping, got {fields!r}")
    if cfg.tokenizer.kind == "pretrained":
        from seqlab.data.pretrained_tokenizer import SHIFT, pretrained_tokenizer_state
        from seqlab.data.tokenizers import Tokenizer

        tok = Tokenizer.from_state(pretrained_tokenizer_state(cfg.tokenizer.get("name")))
        fields.setdefault("vocab_size", tok.vocab_size - SHIFT)
        if tok.eos is not None:
            fields.setdefault("eos_token_id", tok.eos)
            fields.setdefault("bos_token_id", tok.eos)
    return fields


def _load_weights(net, folder) -> None:
    """The folder's weights into the adapter's `transformers` model (same config, same names)."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()  # a bar per load would interleave with the run's output
    model = AutoModelForCausalLM.from_pretrained(folder)
    net.model.load_state_dict(model.state_dict())
