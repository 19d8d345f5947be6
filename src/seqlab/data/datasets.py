"""Turn a data config into raw splits: pairs of (source, target) texts, or one text stream.

A data config names a `reader` (how files become examples) and, per split, the files to read under the
data root. Splits a dataset does not ship (validation, test) are carved from train by seeded fractions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate

from seqlab.data import readers, scan
from seqlab.data.sources import resolve_file
from seqlab.errors import SeqlabError

Pairs = list[tuple[str, str]]
Splits = dict[str, Any]  # split name -> Pairs (pair readers) or str (text readers)

PAIR_READERS = ("parallel", "tsv", "scan_file", "generator")
TEXT_READERS = ("text",)
READERS = (*PAIR_READERS, *TEXT_READERS, "hf")
SPLITS = ("train", "val", "test")


def reader_format(data_cfg: Mapping) -> str:
    """'pairs' or 'text': what the dataset's reader produces."""
    reader = data_cfg["reader"]
    if reader not in READERS:
        raise SeqlabError(
            f"data.reader={reader!r} is not valid; choose one of {', '.join(READERS)}"
        )
    if reader == "hf":
        return "text" if (data_cfg.get("hf") or {}).get("text_field") else "pairs"
    return "text" if reader in TEXT_READERS else "pairs"


def split_files(data_cfg: Mapping) -> list[str]:
    """Every file (relative to the data root) that the configured splits read."""
    files: list[str] = []
    for spec in (data_cfg.get("splits") or {}).values():
        if spec is None:
            continue
        if isinstance(spec, str):
            files.append(spec)
        else:
            files.extend(str(v) for v in spec.values())
    return files


def _path(data_cfg: Mapping, data_root: Path, rel: str) -> Path:
    source = next((f for f in data_cfg.get("files") or [] if f["path"] == rel), {})
    return resolve_file(
        data_root,
        rel,
        url=source.get("url"),
        sha256=source.get("sha256"),
        decompress=source.get("decompress"),
    )


def _read_split(data_cfg: Mapping, data_root: Path, spec: Any) -> Any:
    reader, errors = data_cfg["reader"], data_cfg.get("errors", "strict")
    if reader == "parallel":
        src, tgt = _path(data_cfg, data_root, spec["src"]), _path(data_cfg, data_root, spec["tgt"])
        return readers.read_parallel(src, tgt, errors=errors)
    path = _path(data_cfg, data_root, spec)
    if reader == "tsv":
        cols = data_cfg.get("columns") or {}
        return readers.read_tsv_pairs(
            path, src_col=cols.get("src", 0), tgt_col=cols.get("tgt", 1), errors=errors
        )
    if reader == "scan_file":
        return scan.read_scan_file(path)
    return readers.read_text(path, errors=errors)


def _holdout(items: Pairs, fraction: float, seed: int) -> tuple[Pairs, Pairs]:
    """Seeded random split of examples into (rest, held out)."""
    n_out = round(len(items) * fraction)
    order = np.random.default_rng(seed).permutation(len(items))
    out = set(order[:n_out].tolist())
    return [x for i, x in enumerate(items) if i not in out], [items[i] for i in sorted(out)]


def _tail(text: str, fraction: float) -> tuple[str, str]:
    """Contiguous split of a text stream: the last `fraction` is held out (as nanoGPT does)."""
    cut = int(len(text) * (1 - fraction))
    return text[:cut], text[cut:]


def load_splits(data_cfg: Mapping, data_root: Path) -> Splits:
    """Read train/val/test for a data config, carving missing splits from train."""
    fmt = reader_format(data_cfg)
    if data_cfg["reader"] == "generator":
        splits = dict(instantiate(data_cfg["generator"]))
    elif data_cfg["reader"] == "hf":
        splits = _read_hf(data_cfg["hf"], data_root, fmt)
    else:
        specs = data_cfg.get("splits") or {}
        if specs.get("train") is None:
            raise SeqlabError(f"data.splits.train is missing for dataset {data_cfg['name']!r}")
        splits = {k: _read_split(data_cfg, data_root, v) for k, v in specs.items() if v is not None}
    seed = int(data_cfg.get("split_seed", 0))
    for name in ("test", "val"):
        fraction = data_cfg.get(f"{name}_fraction")
        if name in splits or not fraction:
            continue
        if fmt == "text":
            splits["train"], splits[name] = _tail(splits["train"], fraction)
        else:
            splits["train"], splits[name] = _holdout(splits["train"], fraction, seed)
    if "test" not in splits and data_cfg.get("test_from_val", False):
        splits["test"] = splits["val"]
    missing = [s for s in SPLITS if s not in splits]
    if missing:
        raise SeqlabError(
            f"dataset {data_cfg['name']!r} has no {'/'.join(missing)} split; add data.splits.<name> "
            "or set data.val_fraction / data.test_fraction"
        )
    return splits


def _read_hf(hf: Mapping, data_root: Path, fmt: str) -> Splits:
    """A Hugging Face `datasets` dataset; the package is imported only when a config asks for it."""
    try:
        import datasets
    except ImportError:
        raise SeqlabError(
            "data.reader=hf needs the Hugging Face `datasets` package: pip install datasets"
        ) from None
    kwargs = {"data_files": dict(hf["data_files"])} if hf.get("data_files") else {}
    loaded = datasets.load_dataset(
        hf["name"], hf.get("config"), cache_dir=str(data_root / "hf"), **kwargs
    )
    splits: Splits = {}
    for ours, theirs in (hf.get("split_names") or {}).items():
        if theirs is None or theirs not in loaded:
            continue
        rows = loaded[theirs]
        if fmt == "text":
            splits[ours] = "\n".join(rows[hf["text_field"]])
        else:
            splits[ours] = list(zip(rows[hf["src_field"]], rows[hf["tgt_field"]], strict=True))
    return splits


def scan_grammar_split(train_fraction: float = 0.8, seed: int = 0) -> dict[str, Pairs]:
    """SCAN's simple split generated from the grammar: no files needed."""
    train, test = scan.scan_split(scan.generate_scan(), train_fraction=train_fraction, seed=seed)
    return {"train": train, "test": test}
