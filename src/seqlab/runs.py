"""One run = one folder: config, overrides, provenance (git, environment) and results."""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

_STAMP: str | None = None


def run_stamp() -> str:
    """`<date>_<time>_<random>`: one per process, so two jobs started in the same second differ."""
    global _STAMP
    if _STAMP is None:
        _STAMP = f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{secrets.token_hex(3)}"
    return _STAMP


OmegaConf.register_new_resolver("run_stamp", run_stamp, replace=True)


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_info(where: Path) -> dict[str, Any]:
    """Commit and dirty diff of the seqlab checkout (None outside a git work tree)."""
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return {"commit": None, "dirty": None, "diff": ""}
    diff = _git(["diff", "HEAD"], where) or ""
    return {"commit": commit.strip(), "dirty": bool(diff.strip()), "diff": diff}


def environment() -> dict[str, Any]:
    import lightning
    import torch

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically: readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class RunFolder:
    """The files a run leaves behind, beside Hydra's own `.hydra/`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        # Sweep jobs live in <sweep>/<job number>: prefix the sweep stamp so ids stay unique.
        name = self.path.name
        self.run_id = f"{self.path.parent.name}-{name}" if name.isdigit() else name

    def write_provenance(self, cfg: DictConfig, overrides: list[str], command: list[str]) -> None:
        (self.path / "config.yaml").write_text(
            OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8"
        )
        (self.path / "overrides.txt").write_text("\n".join(overrides) + "\n", encoding="utf-8")
        git = git_info(Path(__file__).resolve().parent)
        (self.path / "git.diff").write_text(git.pop("diff"), encoding="utf-8")
        write_json(self.path / "git.json", git)
        write_json(self.path / "environment.json", environment())
        write_json(
            self.path / "run.json",
            {"run_id": self.run_id, "command": command, "started": time.strftime("%FT%T%z")},
        )

    def write_tokenizers(self, states: dict[str, dict]) -> None:
        """The fitted tokenizers (role → HF JSON), the same ones every checkpoint carries."""
        write_json(self.path / "tokenizers.json", states)

    def write_results(self, results: dict[str, Any]) -> Path:
        path = self.path / "results.json"
        write_json(path, results)
        return path
