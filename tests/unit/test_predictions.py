"""test_predictions.jsonl: every test decode, once, in dataset order."""

from seqlab.runs.predictions import FILENAME, gather_rows, read_predictions, write_predictions


def test_rows_sorted_by_index_and_deduplicated(tmp_path):
    rows = [
        {"index": 3, "source": "c", "references": ["C"], "hypothesis": "c"},
        {"index": 0, "source": "ä 中", "references": ["A", "a"], "hypothesis": "a"},
        {"index": 3, "source": "c", "references": ["C"], "hypothesis": "c"},  # padded repeat
    ]
    path = write_predictions(rows, tmp_path / "run")
    assert path == tmp_path / "run" / FILENAME
    back = read_predictions(path)
    assert [r["index"] for r in back] == [0, 3]
    assert back[0]["source"] == "ä 中" and back[0]["references"] == ["A", "a"]
    assert "中" in path.read_text(encoding="utf-8")  # kept readable, not \\u-escaped


def test_single_process_gather_is_identity():
    rows = [{"index": 1}]
    assert gather_rows(rows) is rows
