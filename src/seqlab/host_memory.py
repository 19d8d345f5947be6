"""Host memory reuse: keep freed activation memory in the process instead of giving it back.

A training step allocates and frees the same megabyte-sized activation and gradient buffers
every step. glibc's malloc returns freed memory at the top of its heap to the kernel once more
than its trim threshold (by default twice the largest block freed so far, a few MB) is free,
and the next step touches those pages again: one page fault per 4 KiB, hundreds to thousands
a step (about 600 on the CPU baby GPT, whose steps ran 10-14 % slower for it). glibc raises its
thresholds itself once a larger block is freed, e.g. after the first validation batch, so in a
`seqlab-train` run with validation it is the steps before that which gain; over 2000 baby-GPT
iterations with validation every 250, about 1 % (experiments/benchmarks/README.md). Raising the
trim threshold from the start keeps the pages; the process keeps at most that much freed memory.

Blocks above the mmap threshold (32 MB at most in glibc) get a mapping of their own, unmapped
when freed, so a large tensor made every step (the logits of a 6k-word vocabulary over 2,000
target tokens: 47 MB) is page-faulted anew every step: 10-19 thousand faults and 10-15 % of a
Multi30k step. Turning such mappings off (mallopt's M_MMAP_MAX = 0) serves them from the heap
too, where they are reused; the process then keeps its peak heap (peak RSS +6-9 % there).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform

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
