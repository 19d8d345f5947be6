"""Every dataset reader, registered once with its typed options: a data config's ``reader`` key
picks one, ``Reader.from_config`` checks its options once (one-line SeqlabError), and the reader
names the files its splits need and reads them into examples or a text stream. File readers of
pairs stream them (`Reader.stream`: read again on each pass, never a list in memory).

An example is ``(source, target)`` or ``(source, target, extra)``, where ``extra`` may hold "group"
(a label such as the bAbI task, for per-group metrics) and "refs" (every reference text, for
multi-reference metrics).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from seqlab.data import babi, readers, scan, scitldr
from seqlab.data.pair_stream import FilePairs
from seqlab.data.text_stream import FileSource
from seqlab.errors import SeqlabError

Example = tuple[str, str] | tuple[str, str, dict[str, Any]]  # (source, target[, extra])
Pairs = list[Example]
Locate = Callable[[str], Path]  # a file relative to the data root -> its local path
PAIR_FORMATS = ("tsv", "csv", "jsonl")  # data.format of the pairs_file reader
ERROR_MODES = readers.ERROR_MODES


def _required(cfg: Mapping, key: str, what: str) -> Any:
    value = cfg.get(key)
    if value is None or value == "???":
        raise SeqlabError(
            f"data.{key} is required for dataset {cfg.get('name')!r}; set it to {what}"
        )
    return value


def _choice(cfg: Mapping, key: str, default: Any, choices: tuple) -> Any:
    value = cfg.get(key, default)
    if value not in choices:
        raise SeqlabError(f"data.{key}={value!r} is not valid; choose one of {', '.join(choices)}")
    return value


@dataclasses.dataclass(frozen=True)
class Reader:
    """How one kind of dataset becomes raw splits. Subclasses set ``name`` and ``format`` and
    register themselves with ``@register``."""

    name: ClassVar[str]
    format: ClassVar[str] = "pairs"  # "pairs" (examples) or "text" (one stream per split)
    errors: str = "strict"

    @classmethod
    def from_config(cls, cfg: Mapping) -> Reader:
        """The reader with its options from the data config, checked once."""
        return cls(errors=_choice(cfg, "errors", "strict", ERROR_MODES))

    def files(self, spec: Any) -> list[str]:
        """The files (relative to the data root) that one split's spec names."""
        if spec is None:
            return []
        return [spec] if isinstance(spec, str) else [str(v) for v in spec.values()]

    def read(self, split: str, spec: Any, locate: Locate) -> Pairs | str:
        """One split: examples, or the text of a text reader."""
        raise NotImplementedError

    def stream(self, split: str, spec: Any, locate: Locate) -> Iterable[Example]:
        """One split's examples, to be read as often as needed (a list unless overridden)."""
        return self.read(split, spec, locate)


READERS: dict[str, type[Reader]] = {}


def register(cls: type[Reader]) -> type[Reader]:
    READERS[cls.name] = cls
    return cls


def reader_for(cfg: Mapping) -> Reader:
    """The configured reader, its options checked (one line naming the key on bad input)."""
    name = cfg.get("reader")
    if name not in READERS:
        raise SeqlabError(f"data.reader={name!r} is not valid; choose one of {', '.join(READERS)}")
    return READERS[name].from_config(cfg)


@register
@dataclasses.dataclass(frozen=True)
class TextReader(Reader):
    """A plain text file per split (language modeling, denoising lines), or a list of files;
    `.gz` / `.zst` files are read uncompressed."""

    name: ClassVar[str] = "text"
    format: ClassVar[str] = "text"

    @classmethod
    def from_config(cls, cfg: Mapping) -> Reader:
        if "path" in cfg:
            _required(cfg, "path", "your file, e.g. data.path=mydata/train.txt")
        return super().from_config(cfg)

    def files(self, spec: Any) -> list[str]:
        """One file, or a list of files read one after the other as one stream."""
        if spec is None:
            return []
        return [spec] if isinstance(spec, str) else [str(v) for v in spec]

    def read(self, split: str, spec: Any, locate: Locate) -> str:
        return FileSource([locate(f) for f in self.files(spec)], self.errors).text()


@register
@dataclasses.dataclass(frozen=True)
class ParallelReader(Reader):
    """One file per language, aligned by line: ``{src: path, tgt: path}`` per split."""

    name: ClassVar[str] = "parallel"

    def read(self, split: str, spec: Any, locate: Locate) -> Pairs:
        return list(self.stream(split, spec, locate))

    def stream(self, split: str, spec: Any, locate: Locate) -> FilePairs:
        src, tgt = locate(spec["src"]), locate(spec["tgt"])
        return FilePairs(partial(readers.iter_parallel, src, tgt, errors=self.errors))


@register
@dataclasses.dataclass(frozen=True)
class TsvReader(Reader):
    """Tab-separated pairs; columns from ``file_langs`` and the chosen languages, or ``columns``."""

    name: ClassVar[str] = "tsv"
    src_col: int | str = 0
    tgt_col: int | str = 1

    @classmethod
    def from_config(cls, cfg: Mapping) -> Reader:
        errors = _choice(cfg, "errors", "strict", ERROR_MODES)
        langs = cfg.get("file_langs")
        if not langs:
            cols = cfg.get("columns") or {}
            return cls(errors=errors, src_col=cols.get("src", 0), tgt_col=cols.get("tgt", 1))
        langs = list(langs)
        src, tgt = cfg.get("src_lang"), cfg.get("tgt_lang")
        for key, lang in (("src_lang", src), ("tgt_lang", tgt)):
            if lang not in langs:
                raise SeqlabError(
                    f"data.{key}={lang!r} is not a language of dataset {cfg.get('name')!r}; "
                    f"choose one of {', '.join(langs)}"
                )
        if src == tgt:
            raise SeqlabError(
                f"data.src_lang and data.tgt_lang are both {src!r}; choose two different "
                f"languages of {', '.join(langs)}"
            )
        return cls(errors=errors, src_col=langs.index(src), tgt_col=langs.index(tgt))

    def read(self, split: str, spec: Any, locate: Locate) -> Pairs:
        return list(self.stream(split, spec, locate))

    def stream(self, split: str, spec: Any, locate: Locate) -> FilePairs:
        path = locate(spec)
        return FilePairs(
            partial(readers.iter_tsv_pairs, path, self.src_col, self.tgt_col, errors=self.errors)
        )


@register
@dataclasses.dataclass(frozen=True)
class PairsFileReader(Reader):
    """The user's own file of pairs: tsv / csv columns or jsonl fields."""

    name: ClassVar[str] = "pairs_file"
    file_format: str = "tsv"
    header: bool = False
    columns: tuple[int | str, int | str] = (0, 1)
    fields: tuple[str, str, str | None, str | None] = ("source", "target", None, None)

    @classmethod
    def from_config(cls, cfg: Mapping) -> Reader:
        fmt = _required(cfg, "format", f"one of {', '.join(PAIR_FORMATS)}")
        _choice(cfg, "format", None, PAIR_FORMATS)
        if "path" in cfg:
            _required(cfg, "path", "your file, e.g. data.path=mydata/train.tsv")
        cols, fields = cfg.get("columns") or {}, cfg.get("fields") or {}
        return cls(
            errors=_choice(cfg, "errors", "strict", ERROR_MODES),
            file_format=fmt,
            header=bool(cfg.get("header", False)),
            columns=(cols.get("src", 0), cols.get("tgt", 1)),
            fields=(
                fields.get("src", "source"), fields.get("tgt", "target"),
                fields.get("group"), fields.get("refs"),
            ),
        )  # fmt: skip

    def read(self, split: str, spec: Any, locate: Locate) -> Pairs:
        return list(self.stream(split, spec, locate))

    def stream(self, split: str, spec: Any, locate: Locate) -> FilePairs:
        path = locate(spec)
        if self.file_format == "jsonl":
            src, tgt, group, refs = self.fields
            return FilePairs(partial(
                readers.iter_jsonl_pairs, path, src_field=src, tgt_field=tgt, errors=self.errors,
                group_field=group, refs_field=refs,
            ))  # fmt: skip
        read = readers.iter_csv_pairs if self.file_format == "csv" else readers.iter_tsv_pairs
        return FilePairs(partial(read, path, *self.columns, errors=self.errors, header=self.header))


@register
@dataclasses.dataclass(frozen=True)
class ScanFileReader(Reader):
    """SCAN's official ``IN: ... OUT: ...`` files."""

    name: ClassVar[str] = "scan_file"

    def read(self, split: str, spec: Any, locate: Locate) -> Pairs:
        return scan.read_scan_file(locate(spec))


@register
@dataclasses.dataclass(frozen=True)
class BabiReader(Reader):
    """The selected bAbI tasks, trained jointly, each example labelled with its task."""

    name: ClassVar[str] = "babi"
    tasks: tuple[int, ...] = ()
    task_names: tuple[tuple[int, str], ...] = ()

    @classmethod
    def from_config(cls, cfg: Mapping) -> Reader:
        names = {int(k): str(v) for k, v in (cfg.get("task_names") or {}).items()}
        valid = sorted(names)
        tasks = cfg.get("tasks", "all")
        chosen = valid if tasks == "all" else [tasks] if isinstance(tasks, int) else tasks
        if (
            not isinstance(chosen, (list, tuple))
            or not chosen
            or any(isinstance(t, bool) or t not in valid for t in chosen)
        ):
            raise SeqlabError(
                f"data.tasks={tasks!r} is not valid; choose all or a list of task numbers from "
                f"{valid[0] if valid else 1} to {valid[-1] if valid else 20}, e.g. data.tasks=[1,2]"
            )
        return cls(
            errors=_choice(cfg, "errors", "strict", ERROR_MODES),
            tasks=tuple(sorted(set(chosen))),
            task_names=tuple(sorted(names.items())),
        )

    def files(self, spec: Any) -> list[str]:
        names = dict(self.task_names)
        return [] if spec is None else [spec.format(task=n, name=names[n]) for n in self.tasks]

    def read(self, split: str, spec: Any, locate: Locate) -> Pairs:
        examples: Pairs = []
        for n, rel in zip(self.tasks, self.files(spec), strict=True):
            examples.extend(babi.read_babi(locate(rel), group=f"qa{n}", errors=self.errors))
        return examples


@register
@dataclasses.dataclass(frozen=True)
class ScitldrReader(Reader):
    """SciTLDR records: training on the first or on every TL;DR; evaluation keeps one example per
    paper with every TL;DR as a reference."""

    name: ClassVar[str] = "scitldr"
    targets: str = "first"

    @classmethod
    def from_config(cls, cfg: Mapping) -> Reader:
        return cls(
            errors=_choice(cfg, "errors", "strict", ERROR_MODES),
            targets=_choice(cfg, "targets", "first", scitldr.TARGETS),
        )

    def read(self, split: str, spec: Any, locate: Locate) -> Pairs:
        targets = self.targets if split == "train" else "first"
        return scitldr.read_scitldr(locate(spec), targets=targets, errors=self.errors)


@register
@dataclasses.dataclass(frozen=True)
class GeneratorReader(Reader):
    """Examples from a Python function (``data.generator``, a Hydra target): no files."""

    name: ClassVar[str] = "generator"


@register
@dataclasses.dataclass(frozen=True)
class HFReader(Reader):
    """A Hugging Face ``datasets`` dataset (``data.hf``); text when it names a ``text_field``."""

    name: ClassVar[str] = "hf"

    @classmethod
    def format_of(cls, cfg: Mapping) -> str:
        return "text" if (cfg.get("hf") or {}).get("text_field") else "pairs"


def reader_format(cfg: Mapping) -> str:
    """'pairs' or 'text': what the dataset's reader produces."""
    reader = reader_for(cfg)
    return HFReader.format_of(cfg) if isinstance(reader, HFReader) else reader.format
