"""`model=hf_causal_lm` / `model=hf_seq2seq`: settle the `transformers` architecture before a run.

With `model.pretrained`, the folder (or hub snapshot) decides the architecture: its config.json
goes into `model.config` as a plain dict, so the run's config.yaml and every checkpoint rebuild
the network with `from_config`, offline. With `model.pretrained=null`, `model.config` describes
a network trained from scratch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from omegaconf import DictConfig, OmegaConf, open_dict

from seqlab.errors import SeqlabError


class Adapter(NamedTuple):
    """A `transformers` adapter as a run sees it."""

    model: str  # the model config's name
    auto_class: str  # the `transformers` Auto class that loads its weights
    example: str  # a from-scratch model.config, for error messages


ADAPTERS = {
    "seqlab.models.hf.causal_lm.HFCausalLM": Adapter(
        "hf_causal_lm", "AutoModelForCausalLM", "{model_type: gpt2, n_layer: 2, ...}"
    ),
    "seqlab.models.hf.seq2seq.HFSeq2Seq": Adapter(
        "hf_seq2seq", "AutoModelForSeq2SeqLM", "{model_type: bart, d_model: 32, ...}"
    ),
}
# Token ids a from-scratch config must keep inside its vocabulary, and what to set each to.
ID_FIELDS = {"eos_token_id": "the tokenizer's eos", "bos_token_id": "the tokenizer's bos",
             "pad_token_id": "the tokenizer's pad",
             "decoder_start_token_id": "the tokenizer's pad or eos"}  # fmt: skip


def _positions(config, seq2seq: bool) -> int | None:
    """The model's learned positions (None: relative positions, as T5's)."""
    if seq2seq:
        return getattr(config, "max_position_embeddings", None)
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)


def apply_hf_pretrained(cfg: DictConfig) -> dict[str, Callable[[Any], None]] | None:
    """Set `model.config` from `model.pretrained`; return how to load its weights into the built
    network (None when there are none to load: another model, or one from scratch)."""
    adapter = ADAPTERS.get(str(cfg.model.net.get("_target_")))
    if adapter is None:
        return None
    from seqlab.models.hf.vocab import hf_config, plain_config

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
            if adapter.model == "hf_seq2seq" and cfg.model.get("forced_bos_token_id") is None:
                cfg.model.forced_bos_token_id = _forced_bos(folder)
    elif cfg.model.get("config") is None:
        raise SeqlabError(
            f"model={adapter.model} needs model.pretrained=<hub name or folder>, or "
            f"model.pretrained=null with model.config={adapter.example}"
        )
    else:
        fields = _from_scratch(cfg, seq2seq=adapter.model == "hf_seq2seq")
        try:
            config = hf_config(fields)
        except (ValueError, TypeError, AttributeError) as e:
            raise SeqlabError(f"config key 'model.config': {e}; give a transformers config with "
                              f"its model_type, e.g. {adapter.example}") from None  # fmt: skip
        if "vocab_size" in fields:
            _check_ids(config)
        with open_dict(cfg):
            cfg.model.config = fields
    _check_lengths(cfg, config, seq2seq=adapter.model == "hf_seq2seq")
    forced = cfg.model.get("forced_bos_token_id")
    if forced is not None and not 0 <= forced < config.vocab_size:
        raise SeqlabError(f"config key 'model.forced_bos_token_id': {forced} is not an id of the "
                          f"model's {config.vocab_size} tokens; set an id of it, or null")  # fmt: skip
    if cfg.model.get("adapter"):
        _check_lora(cfg, config)
    if not name:
        return None
    return {"load": lambda net: _load_weights(net, folder, adapter.auto_class)}


def _forced_bos(folder) -> int | None:
    """The token the folder's model forces first when it generates (mBART-50: the target
    language), from generation_config.json, else config.json (where older folders keep it)."""
    for name in ("generation_config.json", "config.json"):
        try:
            value = json.loads((folder / name).read_text(encoding="utf-8")).get(
                "forced_bos_token_id"
            )
        except (OSError, ValueError):
            continue
        if value is not None:
            return int(value)
    return None


def _check_ids(config) -> None:
    for key, hint in ID_FIELDS.items():
        value = getattr(config, key, None)
        value = value[0] if isinstance(value, list) else value
        if (value is None and key == "eos_token_id") or (
            value is not None and not 0 <= value < config.vocab_size
        ):
            raise SeqlabError(f"config key 'model.config.{key}': {value} is not an id of the "
                              f"model's {config.vocab_size} tokens; set it to {hint}")  # fmt: skip


def _check_lengths(cfg: DictConfig, config, seq2seq: bool) -> None:
    positions = _positions(config, seq2seq)
    key, value = ("model.net.max_len", cfg.model.net.get("max_len")) if seq2seq else (
        "task.block_size", cfg.task.get("block_size"))  # fmt: skip
    if positions and value and value > positions:
        raise SeqlabError(f"{key}={value} exceeds the model's {positions} positions; "
                          f"set {key}<={positions}")  # fmt: skip


def _from_scratch(cfg: DictConfig, seq2seq: bool) -> dict[str, Any]:
    """`model.config`, with the vocabulary size and eos id (a decoder-only model's bos too) of
    `tokenizer=pretrained`'s tokenizer where it leaves them out (a model from scratch on a model's
    own tokenizer)."""
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
            if not seq2seq:
                fields.setdefault("bos_token_id", tok.eos)
    return fields


def _check_lora(cfg: DictConfig, config) -> None:
    """peft is installed and knows which modules to adapt (its defaults cover common types)."""
    try:
        from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS
    except ImportError:
        raise SeqlabError("config key 'model.adapter': LoRA needs peft; pip install "
                          "'seqlab[hf]'") from None  # fmt: skip
    if cfg.model.lora.get("target_modules") is None and config.model_type not in DEFAULTS:
        raise SeqlabError(f"config key 'model.lora.target_modules': peft has no default for "
                          f"model_type {config.model_type}; name the modules, e.g. "
                          "model.lora.target_modules=[q_proj,v_proj]")  # fmt: skip


def _load_weights(net, folder, auto_class: str) -> None:
    """The folder's weights into the adapter's `transformers` model (same config, same names)."""
    import transformers
    from transformers.utils import logging

    logging.disable_progress_bar()  # a bar per load would interleave with the run's output
    model = getattr(transformers, auto_class).from_pretrained(folder)
    net.load_pretrained_state(model.state_dict())


def load_base_weights(net, model_cfg: dict[str, Any]) -> None:
    """Re-load the pre-trained weights a checkpoint left out (LoRA: it stores the adapter only)
    from the run's ``model.pretrained``."""
    from seqlab.hub import resolve_pretrained

    adapter = ADAPTERS[str(model_cfg["net"]["_target_"])]
    _load_weights(net, resolve_pretrained(str(model_cfg["pretrained"])), adapter.auto_class)
