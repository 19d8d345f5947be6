"""The GPU benchmark's baseline loop, run on the CPU with a tiny model (the GPU run is gpu.sh)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import cli_env

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "benchmarks" / "gpu_plain.py"


def test_gpu_plain_loop_trains_and_reports_its_rate(data_root, cache_dir, tmp_path):
    tiny = [
        "size=tiny",
        "task.block_size=16",
        "loader.batch_size=4",
        "trainer.gradient_clip_val=0.5",
    ]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--steps", "12", "--warmup", "2",
         "--sync-every", "5", *tiny],
        cwd=tmp_path, env=cli_env(data_root, cache_dir, tmp_path), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["windows"] == 2 and report["fused"] is True
    assert report["tokens_per_s"] > 0 and report["flops_per_s"] > 0
    assert report["ms_per_step"] * report["tokens_per_s"] / 1e3 == pytest.approx(64, rel=1e-3)
    assert 0 < report["final_loss"] < 10
