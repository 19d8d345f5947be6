"""Reading checkpoints safely: weights only, verified, with errors that name the file.

torch.save writes a zip archive with a CRC-32 of every member (the pickled structure and each
tensor's bytes); torch.load does not check them, so a flipped byte would load silently. Every
load here checks them first (cost: experiments/benchmarks/README.md, "Checksums").
"""

from __future__ import annotations

import pickle
import zipfile
import zlib
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
    verify_archive(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        why = next((line for line in lines if "GLOBAL" in line), lines[0] if lines else "")
        raise SeqlabError(
            f"refusing to load {path}: it is not a plain-weights checkpoint and loading it could "
            f"run code ({why[:120]})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, TypeError) as e:
        raise SeqlabError(
            f"checkpoint {path} is truncated or corrupt ({type(e).__name__}); use another checkpoint "
            "(e.g. last.ckpt or best.ckpt of the run)"
        ) from None
    if not isinstance(ckpt, dict) or "seqlab" not in ckpt or "state_dict" not in ckpt:
        raise SeqlabError(f"{path} is not a seqlab checkpoint (no tokenizer/config inside)")
    check_structure(ckpt, path)
    check_finite(ckpt["state_dict"], path)
    return ckpt


def verify_archive(path: Path) -> None:
    """Every member's CRC-32 as torch.save wrote it; a damaged archive is one line."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
    ) as e:
        raise SeqlabError(
            f"checkpoint {path} is corrupt ({type(e).__name__}: {str(e)[:80]}); use another "
            "checkpoint (e.g. last.ckpt or best.ckpt of the run)"
        ) from None
    if bad is not None:
        raise SeqlabError(
            f"checkpoint {path} is corrupt: {bad} does not match the checksum saved with it; use "
            "another checkpoint (e.g. last.ckpt or best.ckpt of the run)"
        )


# What seqlab reads from a checkpoint, and the type each must have.
STRUCTURE = (
    ("state_dict", dict),
    ("seqlab", dict),
    ("seqlab.config", dict),
    ("seqlab.config.model", dict),
    ("seqlab.config.tokenizer", dict),
    ("seqlab.tokenizers", dict),
)


def check_structure(ckpt: dict, path: Path) -> None:
    """The parts seqlab reads have the types it reads them as (a hand-edited or foreign file)."""
    for dotted, kind in STRUCTURE:
        value: Any = ckpt
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, kind):
            raise SeqlabError(
                f"{path} is not a usable seqlab checkpoint: '{dotted}' is "
                f"{type(value).__name__}, expected {kind.__name__}"
            )
    for name, value in ckpt["state_dict"].items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise SeqlabError(
                f"{path} is not a usable seqlab checkpoint: state_dict entry {name!r} is "
                f"{type(value).__name__}, expected a tensor"
            )
    for role, state in ckpt["seqlab"]["tokenizers"].items():
        if not isinstance(state, dict):
            raise SeqlabError(
                f"{path} is not a usable seqlab checkpoint: tokenizer {role!r} is "
                f"{type(state).__name__}, expected its saved state"
            )


def check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    """Weights with NaN or infinity would only ever produce NaN losses and empty generations."""
    for name, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            share = f"{bad} of {value.numel()}" if bad < value.numel() else "all"
            raise SeqlabError(
                f"checkpoint {path} holds non-finite weights ({share} values of {name} are NaN or "
                "infinite: training diverged before it was saved); use an earlier checkpoint"
            )


def check_tokenizer_kind(ckpt: dict, kind: str, path: str) -> None:
    """Fine-tuning keeps the checkpoint's tokenizer; a different tokenizer config is refused."""
    trained = ckpt["seqlab"]["config"]["tokenizer"]["kind"]
    if trained != kind:
        raise SeqlabError(
            f"{path} was trained with tokenizer.kind={trained}, this run asks for {kind}; "
            f"set tokenizer={trained} to fine-tune it"
        )


def load_weights(net: torch.nn.Module, ckpt: dict, path: str) -> None:
    """Copy the checkpoint's network weights; a different architecture is refused in one line.

    A LoRA checkpoint holds the adapter alone: the base weights are re-loaded from the run's
    ``model.pretrained`` first (the same folder or hub snapshot must still be there)."""
    prefix = "net."
    state = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    partial = getattr(net, "stores_trainable_only", False)  # LoRA: the adapter alone is stored
    if partial:
        from seqlab.models.utils import trainable_names
        from seqlab.runs.hf import load_base_weights

        load_base_weights(net, ckpt["seqlab"]["config"]["model"])
    try:
        net.load_state_dict(state, strict=not partial)
        if partial and set(state) != trainable_names(net):
            raise RuntimeError("not the adapter's tensors")
    except RuntimeError:
        trained = ckpt["seqlab"]["config"]["model"]["net"]["_target_"]
        raise SeqlabError(
            f"{path} holds weights of a different architecture or size ({trained}); use the model "
            "and size it was trained with"
        ) from None
