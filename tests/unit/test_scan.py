"""Tests for seqlab.data.scan: the grammar against the six official SCAN files, and the split."""

from pathlib import Path

import pytest

from seqlab.data.scan import generate_scan, read_scan_file, scan_split
from seqlab.errors import SeqlabError

SCAN_FILES = [
    f"tasks_{part}_{name}.txt"
    for name in ("simple", "length", "addprim_jump")
    for part in ("train", "test")
]


@pytest.fixture(scope="module")
def generated() -> list[tuple[str, str]]:
    return generate_scan()


@pytest.fixture(scope="module")
def official(data_root: Path) -> dict[str, list[tuple[str, str]]]:
    folder = data_root / "scan"
    if not folder.is_dir():
        pytest.skip(f"SCAN files not found in {folder}")
    return {name: read_scan_file(folder / name) for name in SCAN_FILES}


def test_generate_counts_and_examples(generated) -> None:
    assert len(generated) == 20_910
    assert len({cmd for cmd, _ in generated}) == 20_910
    table = dict(generated)
    assert table["jump twice after walk left"] == "I_TURN_LEFT I_WALK I_JUMP I_JUMP"
    assert table["turn opposite right"] == "I_TURN_RIGHT I_TURN_RIGHT"
    assert table["turn around left"] == " ".join(["I_TURN_LEFT"] * 4)
    assert table["look around right"] == " ".join(["I_TURN_RIGHT I_LOOK"] * 4)
    assert table["run opposite left and jump"] == "I_TURN_LEFT I_TURN_LEFT I_RUN I_JUMP"


def test_generate_is_deterministic(generated) -> None:
    assert generate_scan() == generated


def test_generated_set_equals_union_of_official_files(generated, official) -> None:
    union = set().union(*(set(pairs) for pairs in official.values()))
    assert len(union) == 20_910
    assert union == set(generated)


def test_official_file_sizes(official) -> None:
    sizes = {name: len(pairs) for name, pairs in official.items()}
    assert sizes == {
        "tasks_train_simple.txt": 16_728,
        "tasks_test_simple.txt": 4_182,
        "tasks_train_length.txt": 16_990,
        "tasks_test_length.txt": 3_920,
        "tasks_train_addprim_jump.txt": 14_670,
        "tasks_test_addprim_jump.txt": 7_706,
    }
    jumps = official["tasks_train_addprim_jump.txt"].count(("jump", "I_JUMP"))
    assert jumps == 1_467


def test_every_official_line_matches_the_grammar(generated, official) -> None:
    table = dict(generated)
    for name, pairs in official.items():
        wrong = [(cmd, act) for cmd, act in pairs if table.get(cmd) != act]
        assert wrong == [], f"{name}: {wrong[:3]}"


def test_split_sizes_disjoint_and_seeded(generated) -> None:
    train, test = scan_split(generated, train_fraction=0.8, seed=0)
    assert (len(train), len(test)) == (16_728, 4_182)
    assert set(train).isdisjoint(test)
    assert set(train) | set(test) == set(generated)
    assert scan_split(generated, 0.8, seed=0) == (train, test)
    assert scan_split(generated, 0.8, seed=1)[0] != train


def test_split_rejects_bad_fraction(generated) -> None:
    with pytest.raises(SeqlabError, match="train_fraction"):
        scan_split(generated, train_fraction=1.5)


@pytest.mark.parametrize(
    "bad_line",
    ["IN: walk I_WALK", "walk OUT: I_WALK", "IN:  OUT: I_WALK", "IN: walk OUT: "],
)
def test_read_scan_file_names_bad_line(tmp_path: Path, bad_line: str) -> None:
    path = tmp_path / "scan.txt"
    path.write_text(f"IN: walk OUT: I_WALK\n{bad_line}\n")
    with pytest.raises(SeqlabError) as err:
        read_scan_file(path)
    assert str(err.value) == f"{path}:2: expected 'IN: <command> OUT: <actions>'"
