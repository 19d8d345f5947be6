"""SciTLDR reader: the real SciTLDR-A files, and made-up records for the options and errors."""

import json
from pathlib import Path

import pytest

from seqlab.data.scitldr import read_scitldr
from seqlab.errors import SeqlabError


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"dataset file not found: {path}")
    return path


@pytest.mark.parametrize(
    "split,records,tldrs", [("train", 1_992, 1_992), ("dev", 619, 1_453), ("test", 618, 1_967)]
)
def test_scitldr_a_counts_and_references(data_root: Path, split, records, tldrs) -> None:
    path = _need(data_root / "summarization" / "scitldr-a" / f"{split}.jsonl")
    examples = read_scitldr(path)
    assert len(examples) == records
    assert sum(len(extra["refs"]) for _, _, extra in examples) == tldrs
    assert all(tgt == extra["refs"][0] for _, tgt, extra in examples)
    first = json.loads(path.read_text().split("\n", 1)[0])
    assert examples[0][0] == " ".join(s.strip() for s in first["source"])
    # One example per TL;DR when asked: as many examples as TL;DRs.
    assert len(read_scitldr(path, targets="all")) == tldrs


def test_targets_first_or_all(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    rec = {"source": ["First sentence.", " Second one."], "target": ["tl1", "tl2"]}
    path.write_text(json.dumps(rec))
    assert read_scitldr(path) == [("First sentence. Second one.", "tl1", {"refs": ["tl1", "tl2"]})]
    assert [t for _, t, _ in read_scitldr(path, targets="all")] == ["tl1", "tl2"]
    with pytest.raises(SeqlabError, match="data.targets='some' is not valid"):
        read_scitldr(path, targets="some")


@pytest.mark.parametrize(
    "record,problem",
    [
        ({"target": ["t"]}, "field 'source' is missing"),
        ({"source": ["s"], "target": []}, "field 'target' is a list"),
        ({"source": "one string", "target": ["t"]}, "field 'source' is a str"),
    ],
)
def test_bad_records_name_file_and_line(tmp_path: Path, record, problem) -> None:
    path = tmp_path / "s.jsonl"
    good = {"source": ["s"], "target": ["t"]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(SeqlabError) as err:
        read_scitldr(path)
    assert str(err.value).startswith(f"{path}:2: {problem}")
