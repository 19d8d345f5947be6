"""Turn a data config into raw splits: (source, target) examples, or one text stream.

A data config names a `reader` (``seqlab.data.dataset_readers``: how files become examples) and,
per split, the files to read under the data root. Splits a dataset does not ship (validation,
test) are carved from train by seeded fractions. With ``stream=True`` a file's training pairs are
a stream read again on each pass (`seqlab.data.pair_stream`), never a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.utils import instantiate

from seqlab.data import scan
from seqlab.data.dataset_readers import Pairs, Reader, reader_for, reader_format
from seqlab.data.pair_stream import Carved, gather, holdout
from seqlab.data.sources import resolve_file
from seqlab.data.text_stream import (
    FileSource,
    RowsSource,
    Source,
    StringSource,
    TextSplit,
    tail,
)
from seqlab.errors import SeqlabError

Splits = dict[str, Any]  # split name -> Pairs or a stream of them, or str / TextSplit (text)
SPLITS = ("train", "val", "test")


GLOB_CHARS = frozenset("*?[")


def _matches(pattern: str, data_root: Path) -> list[str]:
    """Files matching a glob pattern, sorted: relative to the data root, or absolute."""
    path = Path(pattern)
    if path.is_absolute():
        found = Path(path.anchor).glob(str(path.relative_to(path.anchor)))
        return [str(p) for p in sorted(found) if p.is_file()]
    return [str(p.relative_to(data_root)) for p in sorted(data_root.glob(pattern)) if p.is_file()]


def expand_globs(data_cfg: dict, data_root: Path) -> dict:
    """A text dataset's file patterns (`data.path='corpus/*.txt.gz'`) as the sorted list of files
    they match; one line if a pattern matches nothing."""
    if reader_for(data_cfg).name != "text":
        return data_cfg
    splits = dict(data_cfg.get("splits") or {})
    for name, spec in splits.items():
        specs = [spec] if isinstance(spec, str) else list(spec or [])
        if not any(GLOB_CHARS & set(f) for f in specs):
            continue
        files = []
        for pattern in specs:
            found = _matches(pattern, data_root) if GLOB_CHARS & set(pattern) else [pattern]
            if not found:
                raise SeqlabError(
                    f"data.splits.{name}: no file matches {pattern!r} (under {data_root} unless "
                    "absolute); check the pattern or paths.data_dir"
                )
            files += found
        splits[name] = files
    return {**data_cfg, "splits": splits}


def split_files(data_cfg: Mapping) -> list[str]:
    """Every file (relative to the data root) that the configured splits read."""
    reader = reader_for(data_cfg)
    return [f for spec in (data_cfg.get("splits") or {}).values() for f in reader.files(spec)]


def _locator(data_cfg: Mapping, data_root: Path):
    """rel path -> local file, downloaded (and checked) when the config gives a URL for it."""
    sources = {f["path"]: f for f in data_cfg.get("files") or []}

    def locate(rel: str) -> Path:
        source = sources.get(rel, {})
        return resolve_file(
            data_root, rel, url=source.get("url"), sha256=source.get("sha256"),
            decompress=source.get("decompress"),
        )  # fmt: skip

    return locate


def _read_files(reader: Reader, data_cfg: Mapping, data_root: Path) -> Splits:
    specs = data_cfg.get("splits") or {}
    if specs.get("train") is None:
        raise SeqlabError(f"data.splits.train is missing for dataset {data_cfg['name']!r}")
    locate = _locator(data_cfg, data_root)
    if reader.name == "text":  # read later, a piece at a time
        return {
            name: FileSource([locate(f) for f in reader.files(spec)], reader.errors)
            for name, spec in specs.items()
            if spec is not None
        }
    return {
        name: reader.stream(name, spec, locate) for name, spec in specs.items() if spec is not None
    }


def _raw_splits(data_cfg: Mapping, data_root: Path) -> Splits:
    reader, fmt = reader_for(data_cfg), reader_format(data_cfg)
    if reader.name == "generator":
        splits = dict(instantiate(data_cfg["generator"]))
    elif reader.name == "hf":
        splits = _read_hf(data_cfg["hf"], data_root, fmt)
    else:
        splits = _read_files(reader, data_cfg, data_root)
    if fmt == "text":  # every text split as a range of its source
        return {
            name: TextSplit(value if isinstance(value, Source) else StringSource(value))
            for name, value in splits.items()
        }
    return splits


def _empty(split: Any, fmt: str) -> bool:
    return split.is_blank() if fmt == "text" else not len(split)


def load_splits(data_cfg: Mapping, data_root: Path, stream: bool = False) -> Splits:
    """Read train/val/test for a data config, carving missing splits from train.

    With `stream=True` text splits are `TextSplit`s (read a piece at a time) and pair splits are
    streams of examples (a file read on each pass); else strings and lists.
    """
    fmt = reader_format(data_cfg)
    splits = _raw_splits(data_cfg, data_root)
    seed = int(data_cfg.get("split_seed", 0))
    for name in ("test", "val"):
        fraction = data_cfg.get(f"{name}_fraction")
        if name in splits or not fraction:
            continue
        whole = splits["train"]
        if fmt == "text":
            splits["train"], splits[name] = tail(whole, fraction)
        else:
            splits["train"], splits[name] = holdout(whole, fraction, seed)
        if _empty(splits[name], fmt):
            size = f"{len(whole):,} characters" if fmt == "text" else f"{len(whole):,} examples"
            raise SeqlabError(
                f"data.{name}_fraction={fraction} of the training data ({size}) leaves the {name} "
                f"split empty; give it its own file (data.splits.{name}), or use more data or a "
                "larger fraction"
            )
    held = {n: s for n, s in splits.items() if n != "train" and isinstance(s, Carved)}
    splits.update(gather(held))  # carved val and test read in one pass
    if "test" not in splits and data_cfg.get("test_from_val", False):
        splits["test"] = splits["val"]
    missing = [s for s in SPLITS if s not in splits]
    if missing:
        raise SeqlabError(
            f"dataset {data_cfg['name']!r} has no {'/'.join(missing)} split; add data.splits.<name> "
            "or set data.val_fraction / data.test_fraction"
        )
    if fmt == "text" and not stream:
        return {name: split.text() for name, split in splits.items()}
    if not stream:
        return {name: list(split) for name, split in splits.items()}
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
    streaming = bool(hf.get("streaming"))
    loaded = datasets.load_dataset(
        hf["name"], hf.get("config"), cache_dir=str(data_root / "hf"), **kwargs,
        **({"streaming": True} if streaming else {}),
    )  # fmt: skip
    splits: Splits = {}
    for ours, theirs in (hf.get("split_names") or {}).items():
        if theirs is None or theirs not in loaded:
            continue
        rows = loaded[theirs]
        if fmt == "text" and streaming:  # rows read as the text is, never all on disk
            splits[ours] = RowsSource(rows, hf["text_field"])
        elif fmt == "text":
            splits[ours] = "\n".join(rows[hf["text_field"]])
        elif streaming:
            splits[ours] = [(row[hf["src_field"]], row[hf["tgt_field"]]) for row in rows]
        else:
            splits[ours] = list(zip(rows[hf["src_field"]], rows[hf["tgt_field"]], strict=True))
    return splits


def scan_grammar_split(train_fraction: float = 0.8, seed: int = 0) -> dict[str, Pairs]:
    """SCAN's simple split generated from the grammar: no files needed."""
    train, test = scan.scan_split(scan.generate_scan(), train_fraction=train_fraction, seed=seed)
    return {"train": train, "test": test}
