"""One run = one folder: config, overrides, provenance (git, environment) and results."""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqlab.errors import SeqlabError
from seqlab.runs.redaction import redact, redact_text, redact_yaml_file

_STAMP: str | None = None


def run_stamp() -> str:
    """`<date>_<time>_<random>`: one per process, so two jobs started in the same second differ."""
    global _STAMP
    if _STAMP is None:
        _STAMP = f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{secrets.token_hex(3)}"
    return _STAMP


def run_id_for(path: str | Path) -> str:
    """A run's id from its folder: `<stamp>` for single runs, `<sweep stamp>-<job>` in sweeps."""
    path = Path(path)
    return f"{path.parent.name}-{path.name}" if path.name.isdigit() else path.name


def sweep_id() -> str | None:
    """The sweep's stamp while a multirun job runs (W&B groups runs by it), else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir).name


def job_gpu(n_gpus: int) -> int:
    """The GPU a sweep job should use: job number modulo the GPU count (0 outside sweeps)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or sweep_id() is None:
        return 0
    return int(HydraConfig.get().job.num) % int(n_gpus)


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


def _sweep_records() -> list[Path]:
    """The sweep folder's multirun.yaml while a multirun job runs (it holds the sweep's overrides)."""
    from hydra.core.hydra_config import HydraConfig

    folder = sweep_id() and HydraConfig.get().sweep.dir
    return [Path(folder) / "multirun.yaml"] if folder else []


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically: readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# What a run writes before its data is ready: a run refused by then has nothing else.
PROVENANCE = (
    "config.yaml",
    "overrides.txt",
    "git.diff",
    "git.json",
    "environment.json",
    "run.json",
)


def discard_if_untouched(path: str | Path) -> bool:
    """Remove a run folder that a refused start left: Hydra's records, the log, provenance.

    A refused command must leave nothing to mistake for a run; a folder with anything else (a
    checkpoint, metrics, results, a logger's files: a run that trained) is kept.
    """
    path = Path(path)
    if not path.is_dir():
        return False
    for item in path.rglob("*"):
        rel = item.relative_to(path)
        refused_start = rel.parts[0] == ".hydra" or item.suffix == ".log" or str(rel) in PROVENANCE
        if item.is_file() and not refused_start:
            return False
    shutil.rmtree(path, ignore_errors=True)
    return True


def finish_loggers() -> None:
    """Close the W&B run so the next job of a multirun starts its own instead of merging."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def flatten(value: Mapping, prefix: str = "") -> dict[str, Any]:
    """Nested config → ``{"optimizer.lr": 0.002, ...}``; lists become text (dashboards filter on
    scalars)."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat.update(flatten(item, f"{name}."))
        elif isinstance(item, (list, tuple)):
            flat[name] = str(list(item))
        else:
            flat[name] = item
    return flat


class RunFolder:
    """The files a run leaves behind, beside Hydra's own `.hydra/`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id_for(self.path)

    def write_provenance(
        self,
        cfg: DictConfig,
        overrides: list[str],
        command: list[str],
        resumed: bool = False,
        typed: list[str] | None = None,
    ) -> None:
        """Config, overrides, git state and environment; a resume appends, never erases.

        ``command`` re-runs this run alone; ``typed`` (kept when it differs: a sweep) is what was typed.

        Secrets (see `seqlab.runs.redaction`) are replaced by `<redacted>` in everything written here.
        """
        try:
            self._write_provenance(cfg, overrides, command, resumed, typed or command)
        except OSError as e:
            raise SeqlabError(
                f"cannot write the run folder {self.path} ({e.strerror or e}); free disk space or "
                "set paths.log_dir to a writable folder"
            ) from None

    def _write_provenance(
        self,
        cfg: DictConfig,
        overrides: list[str],
        command: list[str],
        resumed: bool,
        typed: list[str],
    ) -> None:
        plain = redact(OmegaConf.to_container(cfg, resolve=True))
        (self.path / "config.yaml").write_text(OmegaConf.to_yaml(plain), encoding="utf-8")
        overrides, command, typed = redact(list(overrides)), redact(list(command)), redact(typed)
        lines = "\n".join(overrides) + "\n"
        with (self.path / "overrides.txt").open("a" if resumed else "w", encoding="utf-8") as f:
            f.write(f"# resumed {time.strftime('%FT%T%z')}\n{lines}" if resumed else lines)
        git = git_info(Path(__file__).resolve().parent)
        (self.path / "git.diff").write_text(redact_text(git.pop("diff")), encoding="utf-8")
        write_json(self.path / "git.json", git)
        write_json(self.path / "environment.json", environment())
        now = time.strftime("%FT%T%z")
        record = {
            "run_id": self.run_id,
            "command": command,
            **({"sweep_command": typed} if typed != command else {}),
            "started": now,
            "pid": os.getpid(),
            "host": platform.node(),
            "resumed": [],
        }
        if resumed:
            record = json.loads((self.path / "run.json").read_text(encoding="utf-8"))
            record.setdefault("resumed", []).append({"at": now, "command": command})
        write_json(self.path / "run.json", record)
        for path in [*(self.path / ".hydra").glob("*.yaml"), *_sweep_records()]:
            redact_yaml_file(path)  # Hydra wrote these before the job started

    def dashboard_params(self, config: Mapping) -> dict[str, Any]:
        """The redacted config, flattened, with the run's id and code version: what dashboards
        filter and group runs by."""
        git = json.loads((self.path / "git.json").read_text(encoding="utf-8"))
        return {
            **flatten(config),
            "run.id": self.run_id,
            "run.git_commit": git.get("commit"),
            "run.git_dirty": git.get("dirty"),
        }

    def write_tokenizers(self, states: dict[str, dict]) -> None:
        """The fitted tokenizers (role → HF JSON), the same ones every checkpoint carries."""
        write_json(self.path / "tokenizers.json", states)

    def write_results(self, results: dict[str, Any]) -> Path:
        path = self.path / "results.json"
        write_json(path, results)
        return path
