"""Turn a data config into raw splits: (source, target) examples, or one text stream.

A data config names a `reader` (how files become examples) and, per split, the files to read under the
data root. Splits a dataset does not ship (validation, test) are carved from train by seeded fractions.

An example is `(source, target)` or `(source, target, extra)`, where `extra` may hold "group" (a label
such as the bAbI task, for per-group metrics) and "refs" (every reference text, the target included,
for multi-reference metrics). Extras reach the evaluation texts that `prepare` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate

from seqlab.data import babi, readers, scan, scitldr
from seqlab.data.sources import resolve_file
from seqlab.errors import SeqlabError

Example = tuple[str, str] | tuple[str, str, dict[str, Any]]  # (source, target[, extra])
Pairs = list[Example]
Splits = dict[str, Any]  # split name -> Pairs (pair readers) or str (text readers)

PAIR_READERS = ("parallel", "tsv", "scan_file", "generator", "babi", "scitldr", "pairs_file")
TEXT_READERS = ("text",)
READERS = (*PAIR_READERS, *TEXT_READERS, "hf")
SPLITS = ("train", "val", "test")
PAIR_FORMATS = ("tsv", "csv", "jsonl")  # data.format of the pairs_file reader


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


def _required(data_cfg: Mapping, key: str, what: str) -> Any:
    value = data_cfg.get(key)
    if value is None or value == "???":
        raise SeqlabError(
            f"data.{key} is required for dataset {data_cfg.get('name')!r}; set it to {what}"
        )
    return value


def tsv_columns(data_cfg: Mapping) -> tuple[int | str, int | str]:
    """Source and target columns: from `file_langs` and the languages, else from `columns`."""
    langs = data_cfg.get("file_langs")
    if not langs:
        cols = data_cfg.get("columns") or {}
        return cols.get("src", 0), cols.get("tgt", 1)
    langs = list(langs)
    src, tgt = data_cfg.get("src_lang"), data_cfg.get("tgt_lang")
    for key, lang in (("src_lang", src), ("tgt_lang", tgt)):
        if lang not in langs:
            raise SeqlabError(
                f"data.{key}={lang!r} is not a language of dataset {data_cfg.get('name')!r}; "
                f"choose one of {', '.join(langs)}"
            )
    if src == tgt:
        raise SeqlabError(
            f"data.src_lang and data.tgt_lang are both {src!r}; choose two different languages "
            f"of {', '.join(langs)}"
        )
    return langs.index(src), langs.index(tgt)


def babi_tasks(data_cfg: Mapping) -> list[int]:
    """The selected bAbI task numbers: `data.tasks` is `all`, one number or a list of numbers."""
    names = data_cfg.get("task_names") or {}
    valid = sorted(int(k) for k in names)
    tasks = data_cfg.get("tasks", "all")
    if tasks == "all":
        return valid
    chosen = [tasks] if isinstance(tasks, int) else tasks
    if (
        not isinstance(chosen, (list, tuple))
        or not chosen
        or any(isinstance(t, bool) or t not in valid for t in chosen)
    ):
        raise SeqlabError(
            f"data.tasks={tasks!r} is not valid; choose all or a list of task numbers from "
            f"{valid[0] if valid else 1} to {valid[-1] if valid else 20}, e.g. data.tasks=[1,2]"
        )
    return sorted(set(chosen))


def check_options(data_cfg: Mapping) -> None:
    """Reader-specific settings, checked before any file is read (one-line SeqlabError)."""
    reader = data_cfg["reader"]
    reader_format(data_cfg)
    if reader == "tsv":
        tsv_columns(data_cfg)
    elif reader == "babi":
        babi_tasks(data_cfg)
    elif reader == "scitldr":
        targets = data_cfg.get("targets", "first")
        if targets not in scitldr.TARGETS:
            raise SeqlabError(
                f"data.targets={targets!r} is not valid; choose one of {', '.join(scitldr.TARGETS)}"
            )
    elif reader == "pairs_file":
        fmt = _required(data_cfg, "format", f"one of {', '.join(PAIR_FORMATS)}")
        if fmt not in PAIR_FORMATS:
            raise SeqlabError(
                f"data.format={fmt!r} is not valid; choose one of {', '.join(PAIR_FORMATS)}"
            )
    if reader in ("pairs_file", "text") and "path" in data_cfg:
        _required(data_cfg, "path", "your file, e.g. data.path=mydata/train.txt")


def _spec_files(data_cfg: Mapping, spec: Any) -> list[str]:
    """Files that one split's spec names: a path, {src, tgt} paths, or a bAbI per-task pattern."""
    if spec is None:
        return []
    if isinstance(spec, str):
        if data_cfg["reader"] == "babi":
            names = {int(k): v for k, v in (data_cfg.get("task_names") or {}).items()}
            return [spec.format(task=n, name=names[n]) for n in babi_tasks(data_cfg)]
        return [spec]
    return [str(v) for v in spec.values()]


def split_files(data_cfg: Mapping) -> list[str]:
    """Every file (relative to the data root) that the configured splits read."""
    files: list[str] = []
    for spec in (data_cfg.get("splits") or {}).values():
        files.extend(_spec_files(data_cfg, spec))
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


def _read_pairs_file(data_cfg: Mapping, path: Path) -> Pairs:
    """The user's own file of pairs: tsv / csv columns or jsonl fields."""
    fmt, errors = data_cfg["format"], data_cfg.get("errors", "strict")
    header = bool(data_cfg.get("header", False))
    if fmt == "jsonl":
        fields = data_cfg.get("fields") or {}
        return readers.read_jsonl_pairs(
            path,
            src_field=fields.get("src", "source"),
            tgt_field=fields.get("tgt", "target"),
            errors=errors,
            group_field=fields.get("group"),
            refs_field=fields.get("refs"),
        )
    cols = data_cfg.get("columns") or {}
    src, tgt = cols.get("src", 0), cols.get("tgt", 1)
    if fmt == "csv":
        return readers.read_csv_pairs(path, src, tgt, errors=errors, header=header)
    return readers.read_tsv_pairs(path, src, tgt, errors=errors, header=header)


def _read_split(data_cfg: Mapping, data_root: Path, name: str, spec: Any) -> Any:
    reader, errors = data_cfg["reader"], data_cfg.get("errors", "strict")
    if reader == "parallel":
        src, tgt = _path(data_cfg, data_root, spec["src"]), _path(data_cfg, data_root, spec["tgt"])
        return readers.read_parallel(src, tgt, errors=errors)
    if reader == "babi":  # the selected tasks, trained jointly, each labelled for per-task metrics
        examples: Pairs = []
        for n, rel in zip(babi_tasks(data_cfg), _spec_files(data_cfg, spec), strict=True):
            path = _path(data_cfg, data_root, rel)
            examples.extend(babi.read_babi(path, group=f"qa{n}", errors=errors))
        return examples
    path = _path(data_cfg, data_root, spec)
    if reader == "tsv":
        src_col, tgt_col = tsv_columns(data_cfg)
        return readers.read_tsv_pairs(path, src_col=src_col, tgt_col=tgt_col, errors=errors)
    if reader == "scitldr":  # evaluation keeps one example per paper, all TL;DRs as references
        targets = data_cfg.get("targets", "first") if name == "train" else "first"
        return scitldr.read_scitldr(path, targets=targets, errors=errors)
    if reader == "pairs_file":
        return _read_pairs_file(data_cfg, path)
    if reader == "scan_file":
        return scan.read_scan_file(path)
    return readers.read_text(path, errors=errors)


def _holdout(items: Pairs, fraction: float, seed: int) -> tuple[Pairs, Pairs]:
    """Seeded random split of examples (extras and all) into (rest, held out), order kept."""
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
    check_options(data_cfg)
    if data_cfg["reader"] == "generator":
        splits = dict(instantiate(data_cfg["generator"]))
    elif data_cfg["reader"] == "hf":
        splits = _read_hf(data_cfg["hf"], data_root, fmt)
    else:
        specs = data_cfg.get("splits") or {}
        if specs.get("train") is None:
            raise SeqlabError(f"data.splits.train is missing for dataset {data_cfg['name']!r}")
        splits = {
            k: _read_split(data_cfg, data_root, k, v) for k, v in specs.items() if v is not None
        }
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
