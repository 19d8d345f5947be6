"""`resume=<run folder>`: continue a run in place from its own config, checkpoint and logger id;
`skip_completed=true`: skip the jobs of a re-run sweep that finished, resume those interrupted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqlab.errors import SeqlabError
from seqlab.runs.sweeps import earlier_attempt, finished


def last_checkpoint(folder: str | Path) -> Path:
    path = Path(folder) / "checkpoints" / "last.ckpt"
    if not path.is_file():
        raise SeqlabError(
            f"resume={folder}: no checkpoints/last.ckpt to continue from; start a new run instead"
        )
    return path


def hydra_quoted(value: str) -> str:
    """`value` as a quoted Hydra override value: any path (spaces, non-ASCII, quotes) survives.

    In Hydra's quoted strings a backslash is literal except before a quote or at the end."""
    doubled = re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, value)
    return "'" + doubled.replace("'", "\\'") + "'"


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
        f"resume={hydra_quoted(str(folder))}",
        f"hydra.run.dir={hydra_quoted(str(folder))}",
        # .hydra/ keeps the run's launch; seqlab's own files record each resume once it goes
        # ahead, so a refused resume leaves the folder exactly as it was.
        "hydra.output_subdir=null",
    ]


def previous_run(
    cfg: DictConfig, folder: Path, overrides: list[str]
) -> tuple[dict | None, str | None]:
    """(results of a finished run to skip, run folder to resume) for the job about to start.

    `resume=<run folder>` resumes that folder. With `skip_completed=true` a job whose folder already
    holds a finished run is skipped, and one that was interrupted resumes from its last.ckpt.
    """
    if cfg.resume:
        return None, str(cfg.resume)
    if not cfg.get("skip_completed"):
        return None, None
    earlier = earlier_attempt(folder, overrides)
    if earlier == "finished":
        print(f"skip_completed: {folder} finished earlier (results.json); not run again")
        return finished(folder), None
    if earlier == "interrupted":
        print(f"skip_completed: {folder} was interrupted; resuming from checkpoints/last.ckpt")
        return None, str(folder)
    return None, None


def starting_checkpoint(cfg: DictConfig, resume: str | None) -> tuple[str | None, dict | None]:
    """The checkpoint a run starts from, read with `weights_only=True`: its own last.ckpt when
    resuming (which must match this run's tokenizer and network settings), else `ckpt_path`
    (fine-tuning: the checkpoint's tokenizer is kept, its kind must match `tokenizer.kind`)."""
    from seqlab.runs.checkpoints import (  # torch: only when used
        check_tokenizer_kind,
        load_checkpoint,
    )

    path = str(last_checkpoint(resume)) if resume else cfg.ckpt_path
    if not path:
        return None, None
    ckpt = load_checkpoint(path)
    if not resume:
        check_tokenizer_kind(ckpt, cfg.tokenizer.kind, path)
        return path, ckpt
    trained = ckpt["seqlab"]["config"]
    now = OmegaConf.to_container(cfg, resolve=True)
    for section, keep in (("tokenizer", None), ("model", "net")):
        was, asked = trained.get(section) or {}, now.get(section) or {}
        if keep:
            was, asked = {keep: was.get(keep)}, {keep: asked.get(keep)}
        key, a, b = _first_difference(was, asked, section)
        if key:
            raise SeqlabError(
                f"resume={resume}: {key} was {a!r} when the run started, this command asks for "
                f"{b!r}; a resume continues the run as it was: drop the override, or fine-tune in "
                f"a new run with ckpt_path={path}"
            )
    return path, ckpt


def check_same_tokenizers(ckpt: dict, states: dict, resume: str) -> None:
    """The data of a resumed run must give the vocabulary the run was trained with."""
    if ckpt["seqlab"]["tokenizers"] != states:
        raise SeqlabError(
            f"resume={resume}: the data now gives a different vocabulary than when the run "
            "started (the data files or their cleaning changed); restore them, or start a new run"
        )


def check_same_data(ckpt: dict, now: str, resume: str, policy: str) -> None:
    """The examples of a resumed run must be those it was trained on, unless the user says not."""
    was = ckpt["seqlab"].get("data_fingerprint")
    if was is None or was == now:
        return  # None: a checkpoint written before fingerprints were kept
    if policy == "allow":
        print(f"resume={resume}: the data changed since the run started; continuing on the new "
              "data (resume_data_changed=allow)")  # fmt: skip
        return
    raise SeqlabError(
        f"resume={resume}: the data changed since the run started (a data file's contents or the "
        f"data settings differ: fingerprint {was[:12]} then, {now[:12]} now); restore the data, "
        "start a new run, or continue on the changed data with resume_data_changed=allow"
    )


def _first_difference(a: Any, b: Any, key: str) -> tuple[str | None, Any, Any]:
    """The first dotted key where two plain configs differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            found = _first_difference(a.get(k), b.get(k), f"{key}.{k}")
            if found[0]:
                return found
        return None, None, None
    return (key, a, b) if a != b else (None, None, None)
