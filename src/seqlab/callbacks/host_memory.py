"""Host memory reuse: keep freed activation memory in the process instead of giving it back.

A training step frees and re-allocates the same large buffers every step; glibc hands freed
memory at the top of its heap back to the kernel (and maps large blocks on their own), so the
next step page-faults it in again. Raising the trim threshold and serving large blocks from the
heap keeps those pages; the cost is a process that holds its peak heap. Measured effect per step
and on peak RSS: experiments/benchmarks/README.md ("Host memory").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform

import lightning as L

from seqlab.errors import SeqlabError

# mallopt(3) parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4  # most blocks mapped at once; 0 = none (glibc's default: 65536)
# glibc's upper limit for M_MMAP_THRESHOLD on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX).
MMAP_THRESHOLD_MAX_MB = 32
# mallopt takes an int: bytes must stay below 2**31.
TRIM_THRESHOLD_MAX_MB = 2047
GLIBC_MMAP_MAX = 65536  # glibc's default M_MMAP_MAX (DEFAULT_MMAP_MAX)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def keep_freed_memory(
    trim_threshold_mb: int, mmap_threshold_mb: int, map_large_blocks: bool = True
) -> bool:
    """Sets glibc's trim and mmap thresholds for this process (and processes it forks later).

    Args:
        trim_threshold_mb: Free memory at the top of the heap kept for reuse before the rest is
            given back to the kernel (at most 2047: mallopt takes an int of bytes).
        mmap_threshold_mb: Blocks at least this large get a mapping of their own, unmapped when
            freed (at most 32, glibc's limit); smaller ones come from the reusable heap.
        map_large_blocks: False: no block gets a mapping of its own, however large (the
            threshold then only matters once this is set back); True: glibc's default.

    Returns:
        True when set; False where the C library is not glibc (macOS, Windows, musl), which
        manage memory their own way.

    Raises:
        ValueError: A threshold out of range (named, with the valid range).
    """
    if not (0 <= trim_threshold_mb <= TRIM_THRESHOLD_MAX_MB) or not (
        0 <= mmap_threshold_mb <= MMAP_THRESHOLD_MAX_MB
    ):
        raise ValueError(
            f"trim_threshold_mb must be in 0..{TRIM_THRESHOLD_MAX_MB} and mmap_threshold_mb in "
            f"0..{MMAP_THRESHOLD_MAX_MB}, got {trim_threshold_mb} and {mmap_threshold_mb}"
        )
    libc = _glibc()
    if libc is None:
        return False
    trim = libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(trim_threshold_mb << 20))
    mmap = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(mmap_threshold_mb << 20))
    mapped = libc.mallopt(_M_MMAP_MAX, ctypes.c_int(GLIBC_MMAP_MAX if map_large_blocks else 0))
    return bool(trim and mmap and mapped)


class KeepFreedMemory(L.Callback):
    """Applies `keep_freed_memory` when a run is set up (fit, validate, test):
    the step no longer re-faults the pages of buffers it freed in the step before.

    Args:
        trim_threshold_mb: As `keep_freed_memory`.
        mmap_threshold_mb: As `keep_freed_memory`.
        map_large_blocks: As `keep_freed_memory` (False: large logits reuse heap memory).
    """

    def __init__(
        self,
        trim_threshold_mb: int = 512,
        mmap_threshold_mb: int = 32,
        map_large_blocks: bool = False,
    ):
        self.trim_threshold_mb, self.mmap_threshold_mb = trim_threshold_mb, mmap_threshold_mb
        self.map_large_blocks = map_large_blocks

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not isinstance(self.map_large_blocks, bool):
            raise SeqlabError(
                "config key 'callbacks.host_memory.map_large_blocks': expected true or false, "
                f"got {self.map_large_blocks!r}"
            )
        try:
            keep_freed_memory(self.trim_threshold_mb, self.mmap_threshold_mb, self.map_large_blocks)
        except ValueError as e:
            raise SeqlabError(f"config key 'callbacks.host_memory': {e}") from None
