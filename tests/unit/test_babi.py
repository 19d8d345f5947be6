"""bAbI reader: the real task files, and one made-up file per error."""

from pathlib import Path

import pytest

from seqlab.data.babi import read_babi
from seqlab.errors import SeqlabError


def _task_files(root: Path, split: str) -> list[Path]:
    files = sorted((root / "babi" / "en").glob(f"qa*_{split}.txt"))
    if len(files) != 20:
        pytest.skip(f"bAbI files not found under {root / 'babi' / 'en'}")
    return files


def test_qa1_story_so_far_plus_question(data_root: Path) -> None:
    path = data_root / "babi" / "en" / "qa1_single-supporting-fact_train.txt"
    if not path.exists():
        pytest.skip(f"dataset file not found: {path}")
    examples = read_babi(path, group="qa1")
    assert len(examples) == 1_000
    assert examples[0] == (
        "Mary moved to the bathroom. John went to the hallway. Where is Mary?",
        "bathroom",
        {"group": "qa1"},
    )
    # The second question sees both later statements but not the first question.
    assert examples[1][0] == (
        "Mary moved to the bathroom. John went to the hallway. Daniel went back to the hallway. "
        "Sandra moved to the garden. Where is Daniel?"
    )


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_task_file_has_1000_questions(data_root: Path, split: str) -> None:
    for path in _task_files(data_root, split):
        examples = read_babi(path)
        assert len(examples) == 1_000, path.name
        assert all(src.endswith("?") and tgt and extra == {} for src, tgt, extra in examples)


def test_new_story_resets_context(tmp_path: Path) -> None:
    path = tmp_path / "qa.txt"
    path.write_text(
        "1 A is here.\n2 Where is A? \there\t1\n3 B left.\n4 Where is B?\tgone\t3\n"
        "1 C came.\n2 Where is C?\tin\t1\n"
    )
    assert [(s, t) for s, t, _ in read_babi(path)] == [
        ("A is here. Where is A?", "here"),
        ("A is here. B left. Where is B?", "gone"),
        ("C came. Where is C?", "in"),
    ]


@pytest.mark.parametrize(
    "text,line,problem",
    [
        ("1 A is here.\nA went away.\n", 2, "expected '<id> <sentence>'"),
        ("1 A is here.\n3 B left.\n", 2, "line id 3 does not follow 1"),
        ("1 A is here.\n2 Where is A?\t\t1\n", 2, "question line needs"),
        ("1 A is here.\n\n2 Where is A?\there\n", 2, "expected '<id> <sentence>'"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, text, line, problem) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(SeqlabError) as err:
        read_babi(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: {problem}") and "\n" not in msg


def test_file_without_questions(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("1 A is here.\n2 B left.\n")
    with pytest.raises(SeqlabError, match="no question lines"):
        read_babi(path)
