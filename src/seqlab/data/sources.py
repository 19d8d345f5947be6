"""Locate dataset files under the data root, downloading them once when they are missing.

Downloads stream into a temporary file beside the target and are moved into place with
`os.replace`, so an interrupted or corrupt download never leaves a half-written file where a later
run would trust it. Checksums are always verified after a download, but only on request for files
already present, since hashing large corpora on every run costs time.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO

from seqlab.errors import SeqlabError

_CHUNK = 1 << 20
_DECOMPRESSORS = (None, "gzip")


def file_sha256(path: str | Path) -> str:
    """Hash a file in chunks, so memory stays flat however large the file is.

    Args:
        path: File to hash.

    Returns:
        The lowercase hex sha256 digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _one_line(text: object) -> str:
    """Collapse an exception message to one line so error messages stay single-line."""
    return " ".join(str(text).split())


def _copy_hashing(src: BinaryIO, dst: BinaryIO) -> str:
    """Copy `src` to `dst` in chunks and return the sha256 of the bytes written."""
    digest = hashlib.sha256()
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest()


def _download(
    url: str, target: Path, sha256: str | None, decompress: str | None, timeout: float
) -> None:
    """Fetch `url` into `target` atomically, verifying `sha256` on the final (decompressed) bytes.

    Raises:
        SeqlabError: on a checksum mismatch (the temporary file is removed first).
        OSError, urllib.error.URLError, EOFError, zlib.error: on network, disk or gzip failures;
            the caller turns these into a "not found" error that names the url.
    """
    created = [d for d in reversed(target.parents) if not d.exists()]
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            if decompress == "gzip":
                with gzip.GzipFile(fileobj=resp) as unzipped:
                    actual = _copy_hashing(unzipped, out)
            else:
                actual = _copy_hashing(resp, out)
        if sha256 is not None and actual != sha256.lower():
            raise SeqlabError(
                f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {actual}; "
                "the download is corrupt or the configured sha256 is wrong"
            )
        os.replace(tmp, target)
    except BaseException:
        # Leave the data root as it was: no partial file and no empty folders from this attempt.
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def resolve_file(
    data_root: str | Path,
    rel_path: str,
    url: str | None = None,
    sha256: str | None = None,
    decompress: str | None = None,
    *,
    verify: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Return the path of a dataset file, downloading it first if it is missing and a url is known.

    Args:
        data_root: Folder that holds all datasets (the `paths.data_dir` setting).
        rel_path: Location of the file under `data_root`, e.g. `"multi30k/train.en"`.
        url: Where to fetch the file from when it is missing; None means it cannot be fetched.
        sha256: Expected hex digest of the final file (after decompression), or None to skip.
        decompress: None, or "gzip" when the url serves a gzipped copy of the file.
        verify: Also hash a file that is already present; off by default because it is slow.
        timeout: Seconds to wait on the network before giving up.

    Returns:
        The path `data_root / rel_path`, which exists when this returns.

    Raises:
        SeqlabError: if the file is missing and cannot be downloaded, or a checksum does not match.
    """
    if decompress not in _DECOMPRESSORS:
        raise SeqlabError(f"decompress: expected one of {_DECOMPRESSORS}, got {decompress!r}")
    root = Path(data_root).expanduser()
    target = root / rel_path
    if target.is_file():
        if verify and sha256 is not None:
            actual = file_sha256(target)
            if actual != sha256.lower():
                raise SeqlabError(
                    f"checksum mismatch for {target.absolute()}: expected sha256 {sha256.lower()}, "
                    f"got {actual}; delete the file to download it again, or fix its sha256"
                )
        return target

    reason = ""
    if url is not None:
        try:
            _download(url, target, sha256, decompress, timeout)
            return target
        except (OSError, urllib.error.URLError, EOFError, zlib.error) as exc:
            reason = f" failed: {_one_line(getattr(exc, 'reason', None) or exc)}"
    raise SeqlabError(
        f"data file not found: {target.absolute()} (expected layout: {root}/{rel_path}; "
        f"download: {url or 'no url configured'}{reason}; "
        "set paths.data_dir to the folder that holds it)"
    )
