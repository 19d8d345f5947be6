"""Reading checkpoints safely: weights only, with errors that name the file."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from seqlab.errors import SeqlabError


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a seqlab checkpoint with `weights_only=True` (no code runs while loading)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SeqlabError(
            f"checkpoint not found: {path}; pass ckpt_path=<run>/checkpoints/best.ckpt"
        )
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; a cut one has no index
        raise SeqlabError(
            f"checkpoint {path} is truncated or corrupt (not a complete torch.save archive); use "
            "another checkpoint (e.g. last.ckpt or best.ckpt of the run)"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        why = next((line for line in lines if "GLOBAL" in line), lines[0] if lines else "")
        raise SeqlabError(
            f"refusing to load {path}: it is not a plain-weights checkpoint and loading it could "
            f"run code ({why[:120]})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        raise SeqlabError(
            f"checkpoint {path} is truncated or corrupt ({type(e).__name__}); use another checkpoint "
            "(e.g. last.ckpt or best.ckpt of the run)"
        ) from None
    if not isinstance(ckpt, dict) or "seqlab" not in ckpt or "state_dict" not in ckpt:
        raise SeqlabError(f"{path} is not a seqlab checkpoint (no tokenizer/config inside)")
    return ckpt


def check_tokenizer_kind(ckpt: dict, kind: str, path: str) -> None:
    """Fine-tuning keeps the checkpoint's tokenizer; a different tokenizer config is refused."""
    trained = ckpt["seqlab"]["config"]["tokenizer"]["kind"]
    if trained != kind:
        raise SeqlabError(
            f"{path} was trained with tokenizer.kind={trained}, this run asks for {kind}; "
            f"set tokenizer={trained} to fine-tune it"
        )


def load_weights(net: torch.nn.Module, ckpt: dict, path: str) -> None:
    """Copy the checkpoint's network weights; a different architecture is refused in one line."""
    prefix = "net."
    state = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    try:
        net.load_state_dict(state)
    except RuntimeError:
        trained = ckpt["seqlab"]["config"]["model"]["net"]["_target_"]
        raise SeqlabError(
            f"{path} holds weights of a different architecture or size ({trained}); use the model "
            "and size it was trained with"
        ) from None
