"""On-disk cache of tokenized data, keyed by a fingerprint of everything that shapes it.

A cache entry is a folder of numpy arrays plus JSON. It is built in a temporary folder and renamed into
place in one step, so a crash or a full disk never leaves an entry that a later run would trust.
meta.json records the size and SHA-256 of every file (and of itself); an entry is verified the
first time a process uses it, and a damaged one is removed with a warning and rebuilt (cost of the
check: experiments/benchmarks/README.md, "Checksums"). Temp folders of builds that were killed
are removed by the next build.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.data.sources import file_sha256
from seqlab.errors import SeqlabError

# Bump when the cached layout or the way text becomes ids changes, so stale entries are ignored.
CACHE_FORMAT = 2  # 2: meta.json holds checksums
OWNER = ".owner"  # in a temp folder: "<host> <pid>" of the process building it
TEMP_NAME = re.compile(r"\.[0-9a-f]{20}-.+")  # CacheWriter's temp folders (and discarded entries)
ABANDONED_S = 24 * 3600  # a temp folder without a readable owner this old is garbage
log = logging.getLogger(__name__)
_verified: set[tuple[str, int]] = set()  # (entry, meta.json mtime) checked by this process


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


def _meta_digest(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def damage(path: Path) -> str | None:
    """Why the entry at `path` cannot be trusted, or None when every file matches its checksum."""
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return f"meta.json unreadable: {type(e).__name__}"
    if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
        return "meta.json has no file list"
    if meta.get("meta_sha256") != _meta_digest(meta):
        return "meta.json was changed"
    for name, want in meta["files"].items():
        file = path / name
        try:
            size = file.stat().st_size
        except OSError:
            return f"{name} is missing"
        if size != want.get("bytes"):
            return f"{name} has {size} bytes, {want.get('bytes')} were written"
        if file_sha256(file) != want.get("sha256"):
            return f"{name} does not match its checksum"
    return None


def lookup(cache_dir: Path, key: str) -> CacheEntry | None:
    """The complete, verified entry for `key`; None when there is none (or it was damaged)."""
    path = Path(cache_dir) / key
    try:
        stamp = (path / "meta.json").stat().st_mtime_ns
    except OSError:
        return None
    if (str(path), stamp) in _verified:
        return CacheEntry(path)
    why = damage(path)
    if why is None:
        _verified.add((str(path), stamp))
        return CacheEntry(path)
    log.warning("data cache entry %s is damaged (%s); rebuilding it", path, why)
    discard(path)
    return None


def discard(path: Path) -> None:
    """Move an entry out of the way in one step (readers never see half of it), then delete it."""
    trash = path.with_name(f".{path.name}-damaged-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.replace(path, trash)
    except OSError:
        return  # another process got there first
    shutil.rmtree(trash, ignore_errors=True)


def _alive(host: str, pid: int) -> bool:
    if host != socket.gethostname():
        return True  # another machine's build (shared cache): not ours to judge
    try:
        os.kill(pid, 0)  # PermissionError: alive, another user's
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_abandoned(cache_dir: Path) -> list[Path]:
    """Temp folders of builds whose process is gone (killed mid-build); returns what was removed."""
    removed = []
    for tmp in Path(cache_dir).glob(".*-*"):
        if not TEMP_NAME.fullmatch(tmp.name) or not tmp.is_dir():
            continue
        try:
            host, pid = (tmp / OWNER).read_text(encoding="utf-8").split()
            gone = not _alive(host, int(pid))
        except (OSError, ValueError):
            try:
                gone = time.time() - tmp.stat().st_mtime > ABANDONED_S
            except OSError:
                continue
        if gone:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


@contextlib.contextmanager
def build_lock(cache_dir: Path, key: str) -> Iterator[None]:
    """Held while one process builds an entry: the others that want it (DDP ranks, sweep jobs
    on one machine or on a shared file system) wait, then read what it built."""
    path = Path(cache_dir) / f".{key}.lock"
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
    except OSError as e:
        raise SeqlabError(
            f"cannot write the data cache in {cache_dir} ({e.strerror}); "
            "set paths.cache_dir to a writable folder"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            log.info(
                "waiting for %s to finish building the data cache %s",
                handle.read() or "another process",
                key,
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{socket.gethostname()} process {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            # Gone with its holder; a process that opened it before then and locks it next
            # finds the entry built (at worst two build it, and one rename wins).
            path.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


class CacheWriter:
    """Collects arrays and JSON in a temp folder; `commit` renames it into place atomically."""

    def __init__(self, cache_dir: Path, key: str):
        self.final = Path(cache_dir) / key
        self.files: dict[str, dict] = {}
        try:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            remove_abandoned(Path(cache_dir))
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
            (self.tmp / OWNER).write_text(f"{socket.gethostname()} {os.getpid()}", encoding="utf-8")
        except OSError as e:
            raise SeqlabError(
                f"cannot write the data cache in {cache_dir} ({e.strerror}); "
                "set paths.cache_dir to a writable folder"
            ) from None

    @contextlib.contextmanager
    def _guarding(self, name: str) -> Iterator[Path]:
        """Write `name` inside the block; then record its checksum. A failed write (a full
        disk) removes the temp folder and is one line."""
        try:
            yield self.tmp / name
            path = self.tmp / name
            self.files[name] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        except OSError as e:
            self.abort()
            raise SeqlabError(
                f"writing the data cache in {self.final.parent} failed ({e.strerror or f'incomplete write: {e}'}); "
                "free disk space or set paths.cache_dir elsewhere"
            ) from None

    def _guard(self, name: str, write) -> None:
        with self._guarding(name):
            write()

    def array(self, name: str, values: np.ndarray) -> None:
        self._guard(f"{name}.npy", lambda: np.save(self.tmp / f"{name}.npy", values))

    @contextlib.contextmanager
    def open_array(self, name: str, dtype: type) -> Iterator[ArrayFile]:
        """A 1-D array appended to chunk by chunk inside the block, stored as the same `.npy`
        file that `array` writes: memory holds one chunk, not the whole array."""
        with self._guarding(f"{name}.npy") as path, ArrayFile(path, dtype) as out:
            yield out

    def array_chunks(
        self, name: str, dtype: type, chunks: Iterable[np.ndarray], length: int | None = None
    ) -> int:
        """`open_array` filled from `chunks`; returns the length (a `length` given is checked)."""
        with self.open_array(name, dtype) as out:
            for chunk in chunks:
                out.write(chunk)
            if length is not None and out.length != length:
                raise OSError(f"{name}: {out.length} values written, {length} announced")
        return out.length

    def json(self, name: str, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False)
        self._guard(
            f"{name}.json", lambda: (self.tmp / f"{name}.json").write_text(text, encoding="utf-8")
        )

    def text(self, name: str, value: str) -> None:
        self._guard(name, lambda: (self.tmp / name).write_text(value, encoding="utf-8"))

    def commit(self, meta: dict) -> CacheEntry:
        """Write meta.json last, then move the folder into place (another process may have won)."""
        meta = {**meta, "files": dict(self.files)}
        meta["meta_sha256"] = _meta_digest(meta)
        self.json("meta", meta)
        (self.tmp / OWNER).unlink(missing_ok=True)
        try:
            os.replace(self.tmp, self.final)
        except OSError:
            # Another process committed the same key first; its entry is identical.
            self.abort()
        return CacheEntry(self.final)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class ArrayFile:
    """A `.npy` file of a 1-D array whose length is known once it is written: the header is
    reserved first and filled in on close (the same bytes `np.save` writes)."""

    def __init__(self, path: Path, dtype: type):
        self.dtype, self.length = np.dtype(dtype), 0
        self.file = Path(path).open("wb")  # noqa: SIM115 (closed by __exit__)
        self.reserved = self._header(0)
        self.file.write(self.reserved)

    def _header(self, n: int) -> bytes:
        out = io.BytesIO()
        fields = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (n,)}  # fmt: skip
        np.lib.format.write_array_header_1_0(out, fields)
        return out.getvalue()

    def write(self, values: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
        self.length += len(values)

    def __enter__(self) -> ArrayFile:
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                final = self._header(self.length)
                if len(final) != len(self.reserved):  # (never below 10^60 values)
                    raise OSError("the .npy header changed size")
                self.file.seek(0)
                self.file.write(final)
        finally:
            self.file.close()


def pack(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate variable-length id arrays into (flat ids, offsets of length n+1)."""
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(arrays).astype(np.int32) if arrays else np.zeros(0, np.int32)
    return flat, offsets
