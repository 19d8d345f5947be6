"""Where a `transformers` model named by a run lives: a local folder, or a Hugging Face hub name
found in (or downloaded into) the hub cache. Offline, a name that is not cached is one line."""

from __future__ import annotations

import os
from pathlib import Path

from seqlab.errors import SeqlabError

# The files a transformers model and its tokenizer need; weights in safetensors (never pickled code).
HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt"]


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def resolve_pretrained(name: str, key: str = "model.pretrained") -> Path:
    """The folder holding ``name``: itself when it is a folder, else its hub cache snapshot.

    Raises:
        SeqlabError: ``name`` is neither a folder nor cached, and cannot be downloaded.
    """
    path = Path(str(name)).expanduser()
    if path.is_dir():
        return path.resolve()
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        raise SeqlabError(f"{key}={name}: not a local folder, and huggingface_hub is not "
                          f"installed; pass a local folder: {key}=/path/to/folder") from None  # fmt: skip
    why = "not cached, HF_HUB_OFFLINE=1"
    for local in (True,) if _offline() else (True, False):
        try:
            return Path(
                snapshot_download(str(name), allow_patterns=HUB_FILES, local_files_only=local)
            )
        except Exception as e:  # not cached, no network, no such repository, bad name
            why = "not cached" if local else f"no download: {type(e).__name__}"
    raise SeqlabError(
        f"{key}={name}: not a local folder, and not in the Hugging Face cache {HF_HUB_CACHE} "
        f"({why}); pass a local folder: {key}=/path/to/folder"
    )
