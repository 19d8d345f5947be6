"""On-disk cache of tokenized data, keyed by a fingerprint of everything that shapes it.

A cache entry is a folder of numpy arrays plus JSON. It is built in a temporary folder and renamed into
place in one step, so a crash or a full disk never leaves an entry that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.errors import SeqlabError

# Bump when the cached layout or the way text becomes ids changes, so stale entries are ignored.
CACHE_FORMAT = 1


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts (configs, file hashes, format version)."""
    text = json.dumps([CACHE_FORMAT, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class CacheEntry:
    """Read access to one complete cache folder."""

    def __init__(self, path: Path):
        self.path = path

    def array(self, name: str) -> np.ndarray:
        # mmap: a cached start costs file opens, not reads.
        return np.load(self.path / f"{name}.npy", mmap_mode="r")

    def json(self, name: str) -> Any:
        return json.loads((self.path / f"{name}.json").read_text(encoding="utf-8"))

    def text(self, name: str) -> str:
        return (self.path / name).read_text(encoding="utf-8")


def lookup(cache_dir: Path, key: str) -> CacheEntry | None:
    path = Path(cache_dir) / key
    return CacheEntry(path) if (path / "meta.json").is_file() else None


class CacheWriter:
    """Collects arrays and JSON in a temp folder; `commit` renames it into place atomically."""

    def __init__(self, cache_dir: Path, key: str):
        self.final = Path(cache_dir) / key
        try:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
        except OSError as e:
            raise SeqlabError(
                f"cannot write the data cache in {cache_dir} ({e.strerror}); "
                "set paths.cache_dir to a writable folder"
            ) from None

    def _guard(self, write) -> None:
        try:
            write()
        except OSError as e:
            self.abort()
            raise SeqlabError(
                f"writing the data cache in {self.final.parent} failed ({e.strerror or f'incomplete write: {e}'}); "
                "free disk space or set paths.cache_dir elsewhere"
            ) from None

    def array(self, name: str, values: np.ndarray) -> None:
        self._guard(lambda: np.save(self.tmp / f"{name}.npy", values))

    def json(self, name: str, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False)
        self._guard(lambda: (self.tmp / f"{name}.json").write_text(text, encoding="utf-8"))

    def text(self, name: str, value: str) -> None:
        self._guard(lambda: (self.tmp / name).write_text(value, encoding="utf-8"))

    def commit(self, meta: dict) -> CacheEntry:
        """Write meta.json last, then move the folder into place (another process may have won)."""
        self.json("meta", meta)
        try:
            os.replace(self.tmp, self.final)
        except OSError:
            # Another process committed the same key first; its entry is identical.
            self.abort()
        return CacheEntry(self.final)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def pack(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate variable-length id arrays into (flat ids, offsets of length n+1)."""
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(arrays).astype(np.int32) if arrays else np.zeros(0, np.int32)
    return flat, offsets
