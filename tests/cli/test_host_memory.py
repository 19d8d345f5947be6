"""Host memory reuse: freed buffers are not given back to the kernel and re-faulted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers.cli import cli_env
from seqlab.callbacks.host_memory import KeepFreedMemory, _glibc, keep_freed_memory
from seqlab.errors import SeqlabError


def _fault_counter(setup: str, repeats: int) -> str:
    """A script: `setup` (defines `step()`), one step, then prints the page faults of `repeats`
    more. Run in a fresh process: the setting is process-wide."""
    return f"""
import resource, sys
{setup}
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range({repeats}):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


# Allocates and frees megabyte buffers as a training step does, 20 times after the first.
CHURN = _fault_counter(
    """
from seqlab.callbacks.host_memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory(512, 32)
def step():
    blocks = [bytearray(n << 20) for n in (1, 3, 2, 5, 1, 4)]
    del blocks
""",
    20,
)

glibc_only = pytest.mark.skipif(_glibc() is None, reason="glibc malloc only")


def _faults(script: str, mode: str) -> int:
    """Page faults the script prints, run in a fresh process (the setting is process-wide)."""
    out = subprocess.run(
        [sys.executable, "-c", script, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


@glibc_only
@pytest.mark.slow
def test_freed_buffers_are_reused_without_page_faults():
    default, kept = _faults(CHURN, "default"), _faults(CHURN, "keep")
    pages = 20 * (1 + 3 + 2 + 5 + 1 + 4) * 256  # 4 KiB pages written by the 20 repetitions
    assert default > pages // 4, "glibc's defaults no longer give memory back: test is moot"
    assert kept < pages // 100


# A block above glibc's largest mmap threshold (32 MB), made and freed as a step's logits are,
# 10 times after the first. `callback`: KeepFreedMemory's defaults (the default config's);
# `mapped`: the same with map_large_blocks=True.
LARGE = _fault_counter(
    """
from seqlab.callbacks.host_memory import KeepFreedMemory
KeepFreedMemory(map_large_blocks=sys.argv[1] == "mapped").setup(None, None, "fit")
def step():
    logits = bytearray(48 << 20)
    del logits
""",
    10,
)


@glibc_only
@pytest.mark.slow
def test_large_blocks_come_from_the_reused_heap_by_default():
    pages = 10 * 48 * 256  # 4 KiB pages of the 10 repetitions
    mapped, default = _faults(LARGE, "mapped"), _faults(LARGE, "callback")
    assert mapped > pages // 2, "glibc no longer maps large blocks: test is moot"
    assert default < pages // 100


def test_map_large_blocks_must_be_a_bool():
    with pytest.raises(
        SeqlabError, match="'callbacks.host_memory.map_large_blocks'.*true or false"
    ):
        KeepFreedMemory(map_large_blocks="no").setup(None, None, "fit")


def test_thresholds_out_of_range_are_refused():
    with pytest.raises(ValueError, match="mmap_threshold_mb in 0..32"):
        keep_freed_memory(512, 64)
    with pytest.raises(ValueError, match="trim_threshold_mb must be in 0..2047"):
        keep_freed_memory(2048, 32)  # 2 GiB of bytes would overflow mallopt's int
    with pytest.raises(SeqlabError, match="config key 'callbacks.host_memory'"):
        KeepFreedMemory(trim_threshold_mb=-1).setup(None, None, "fit")


# seqlab-eval with keep_freed_memory recorded instead of applied; prints the calls.
EVAL_PROBE = """
import runpy, sys
import seqlab.callbacks.host_memory as callbacks
calls = []
callbacks.keep_freed_memory = lambda *args: calls.append(args) or True
sys.argv = ["seqlab-eval", *sys.argv[1:]]
try:
    runpy.run_module("seqlab.evaluate", run_name="__main__")
except SystemExit as e:
    assert not e.code, e.code
print("HOST_MEMORY", calls)
"""


def test_eval_applies_the_training_host_memory_defaults(run_cli, data_root, cache_dir, tmp_path):
    run_cli("train", "size=tiny", "trainer.max_steps=2", "trainer.limit_val_batches=1",
            "test=false", "loader.batch_size=8")  # fmt: skip
    [ckpt] = (tmp_path / "outputs").rglob("last.ckpt")
    proc = subprocess.run(
        [sys.executable, "-c", EVAL_PROBE, f"ckpt_path={ckpt}", "trainer.limit_test_batches=1"],
        cwd=tmp_path, env=cli_env(data_root, cache_dir, tmp_path / "eval"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HOST_MEMORY [(512, 32, False)]" in proc.stdout  # as conf/callbacks/default.yaml
