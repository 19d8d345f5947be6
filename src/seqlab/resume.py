"""`resume=<run folder>`: continue a run in place from its own config, checkpoint and logger id."""

from __future__ import annotations

from pathlib import Path

from seqlab.errors import SeqlabError


def last_checkpoint(folder: str | Path) -> Path:
    path = Path(folder) / "checkpoints" / "last.ckpt"
    if not path.is_file():
        raise SeqlabError(
            f"resume={folder}: no checkpoints/last.ckpt to continue from; start a new run instead"
        )
    return path


def resume_args(argv: list[str]) -> list[str]:
    """Rewrite the command line so Hydra composes the run's own saved config, in its own folder.

    The run's `config.yaml` (resolved when it started) becomes the primary config; overrides given
    beside `resume=` apply on top of it and are recorded in the run folder.
    """
    given = [a for a in argv if a.startswith("resume=")]
    if not given:
        return argv
    folder = Path(given[-1].split("=", 1)[1]).expanduser().resolve()
    if not (folder / "config.yaml").is_file() or not (folder / "run.json").is_file():
        raise SeqlabError(f"resume={folder}: not a seqlab run folder (no run.json/config.yaml)")
    last_checkpoint(folder)
    rest = [a for a in argv if not a.startswith("resume=")]
    if {"-m", "--multirun"} & set(rest):
        raise SeqlabError("resume= continues one run; drop -m/--multirun")
    return [
        *("--config-path", str(folder), "--config-name", "config"),
        *rest,
        f"resume={folder}",
        f"hydra.run.dir={folder}",
    ]
