"""`model=gpt model.init_from=<folder>`: start seqlab's GPT from a `transformers` GPT-2 folder
(config.json, model.safetensors or pytorch_model.bin, tokenizer.json), e.g. one seqlab-export
wrote. The folder decides the architecture and the tokenizer; the run's config records both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from seqlab.errors import SeqlabError

GPT_TARGET = "seqlab.models.GPT"


def _fail(folder: Path, why: str) -> SeqlabError:
    return SeqlabError(f"model.init_from={folder}: {why}")


def _tokenizer_state(folder: Path) -> dict:
    """The folder's tokenizer, which must keep seqlab's special tokens at their ids."""
    from tokenizers import Tokenizer as HFTokenizer

    from seqlab.data.tokenizers import SPECIAL_TOKENS

    try:
        text = (folder / "tokenizer.json").read_text(encoding="utf-8")
        kind = json.loads((folder / "seqlab.json").read_text(encoding="utf-8"))["tokenizer_kind"]
    except (OSError, ValueError, KeyError):
        raise _fail(folder, "no tokenizer.json and seqlab.json; seqlab's GPT reads folders that "
                    "seqlab-export wrote (their vocabulary keeps seqlab's special tokens)") from None  # fmt: skip
    ids = [HFTokenizer.from_str(text).token_to_id(t) for t in SPECIAL_TOKENS]
    if ids != list(range(len(SPECIAL_TOKENS))):
        raise _fail(folder, f"its tokenizer does not hold {', '.join(SPECIAL_TOKENS)} at ids 0-5")
    return {"kind": kind, "json": text}


def _weights(folder: Path) -> dict:
    import torch

    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(folder / "model.safetensors")
    if (folder / "pytorch_model.bin").is_file():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise _fail(folder, "no model.safetensors or pytorch_model.bin")


def apply_init_from(cfg: DictConfig) -> dict[str, Any] | None:
    """Set `model.net` to the folder's architecture; return how to load its weights, and its
    tokenizer state (None without `model.init_from`)."""
    path = cfg.model.get("init_from")
    if not path:
        return None
    folder = Path(str(path)).expanduser().resolve()
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise _fail(folder, "no readable config.json; pass a folder that seqlab-export "
                    "(or save_pretrained) wrote") from None  # fmt: skip
    if config.get("model_type") != "gpt2" or cfg.model.net.get("_target_") != GPT_TARGET:
        raise _fail(folder, f"a {config.get('model_type')} checkpoint into {cfg.model.name}: "
                    "init_from loads GPT-2 folders into model=gpt")  # fmt: skip
    if cfg.task.kind != "lm":
        raise _fail(folder, f"task={cfg.task.name}: init_from starts language models (task=lm)")
    if cfg.ckpt_path:
        raise _fail(folder, "pass either ckpt_path= or model.init_from=, not both")
    tokenizer = _tokenizer_state(folder)
    if tokenizer["kind"] != cfg.tokenizer.kind:
        raise _fail(folder, f"its tokenizer is {tokenizer['kind']}, this run asks for "
                    f"{cfg.tokenizer.kind}; set tokenizer={tokenizer['kind']}")  # fmt: skip
    from seqlab.models.hf.gpt2 import gpt_arguments, load_gpt2_state

    try:
        architecture = gpt_arguments(config)
    except (KeyError, ValueError) as e:
        raise _fail(folder, f"config.json: {e}") from None
    positions = architecture["block_size"]
    if cfg.task.block_size > positions:
        raise _fail(folder, f"task.block_size={cfg.task.block_size} exceeds the model's "
                    f"{positions} positions; set task.block_size<={positions}")  # fmt: skip
    with open_dict(cfg):
        cfg.model.net.update(architecture)
        cfg.model.init_from = str(folder)
    state = _weights(folder)
    return {"load": lambda net: load_gpt2_state(net, state), "tokenizers": {"text": tokenizer}}
