"""Damaged files seqlab trusts: checkpoints and data-cache entries, broken on purpose.

The contract: a damaged checkpoint is refused in one line naming it (exit 2, no traceback, no
good file touched); a damaged cache entry is noticed, removed with a one-line warning and rebuilt
(the run goes on). The chaos tests apply many seeded random bit flips and truncations.
"""

from __future__ import annotations

import os
import random
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.cli import QUIET, error_line
from seqlab.data.cache import OWNER, lookup, remove_abandoned
from seqlab.data.prepare import prepare
from seqlab.errors import SeqlabError
from seqlab.runs.checkpoints import load_checkpoint


def tensor_member(path: Path) -> zipfile.ZipInfo:
    """The largest tensor stored in a torch.save archive."""
    with zipfile.ZipFile(path) as archive:
        return max(
            (i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size
        )


def data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where the member's bytes start (after its local header)."""
    with path.open("rb") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), dtype="<u2")
    return info.header_offset + 30 + int(name_len) + int(extra_len)


def flip(path: Path, offset: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


def resave(src: Path, dst: Path, change) -> Path:
    ckpt = torch.load(src, weights_only=True)
    change(ckpt)
    torch.save(ckpt, dst)
    return dst


# --- checkpoints ---------------------------------------------------------------------------------


def test_a_flipped_byte_inside_a_tensor_is_refused(cli, scan_run, tmp_path):
    run = shutil.copytree(scan_run, tmp_path / "run")
    last = run / "checkpoints" / "last.ckpt"
    member = tensor_member(last)
    flip(last, data_offset(last, member) + member.file_size // 2)
    expected = (
        f"checkpoint {last} is corrupt: {member.filename} does not match the checksum saved with "
        "it; use another checkpoint (e.g. last.ckpt or best.ckpt of the run)"
    )
    assert error_line(cli("evaluate", f"ckpt_path={last}")) == expected
    assert error_line(cli("train", f"resume={run}")) == expected
    assert error_line(cli("generate", f"ckpt_path={last}", "prompt=walk")) == expected


@pytest.mark.parametrize(
    "part,change",
    [
        ("'seqlab.config' is str, expected dict", lambda c: c["seqlab"].update(config="gru")),
        ("'seqlab.tokenizers' is list, expected dict", lambda c: c["seqlab"].update(tokenizers=[])),
        ("'state_dict' is list, expected dict", lambda c: c.update(state_dict=[])),
        (
            "state_dict entry 'net.extra' is int, expected a tensor",
            lambda c: c["state_dict"].update({"net.extra": 3}),
        ),
        (
            "tokenizer 'source' is str, expected its saved state",
            lambda c: c["seqlab"]["tokenizers"].update(source="word"),
        ),
    ],
)
def test_a_checkpoint_with_wrong_typed_parts_is_one_line(cli, scan_run, tmp_path, part, change):
    bad = resave(scan_run / "checkpoints" / "last.ckpt", tmp_path / "bad.ckpt", change)
    message = error_line(cli("evaluate", f"ckpt_path={bad}"))
    assert message == f"{bad} is not a usable seqlab checkpoint: {part}"


def test_non_finite_weights_are_refused_at_load(cli, scan_run, tmp_path):
    def poison(ckpt):
        name = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point())
        ckpt["state_dict"][name].view(-1)[:2] = float("nan")

    bad = resave(scan_run / "checkpoints" / "last.ckpt", tmp_path / "nan.ckpt", poison)
    message = error_line(cli("generate", f"ckpt_path={bad}", "prompt=walk"))
    assert message.startswith(f"checkpoint {bad} holds non-finite weights (2 of ")
    assert message.endswith("use an earlier checkpoint")


def test_chaos_bit_flips_and_truncations_of_a_checkpoint(scan_run, tmp_path):
    """Seeded random damage: each either loads exactly the original or is refused in one line."""
    good = scan_run / "checkpoints" / "last.ckpt"
    original, data = load_checkpoint(good), good.read_bytes()
    rng, outcomes = random.Random(0), {"refused": 0, "loaded intact": 0}
    bad = tmp_path / "bad.ckpt"
    for trial in range(240):
        damaged = bytearray(data)
        if trial % 8 == 7:
            damaged = damaged[: rng.randrange(len(damaged))]
        else:
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        bad.write_bytes(bytes(damaged))
        try:
            loaded = load_checkpoint(bad)
        except SeqlabError as e:
            assert "\n" not in str(e) and str(bad) in str(e)
            outcomes["refused"] += 1
            continue
        # Only bytes no reader uses (zip timestamps, padding) can change without a refusal.
        assert loaded["seqlab"] == original["seqlab"]
        assert loaded["state_dict"].keys() == original["state_dict"].keys()
        for k, v in loaded["state_dict"].items():
            assert torch.equal(v, original["state_dict"][k]), k
        outcomes["loaded intact"] += 1
    assert good.read_bytes() == data  # the good file was never touched
    print(f"checkpoint chaos: {outcomes}")
    assert outcomes["refused"] >= 200


# --- the data cache ------------------------------------------------------------------------------


PAIRS = "".join(f"walk {i}\tI_WALK {i}\n" for i in range(40))
DATA = {"name": "mini", "reader": "pairs_file", "format": "tsv", "splits": {"train": "pairs.tsv"},
        "val_fraction": 0.1, "test_fraction": 0.1, "split_seed": 0}  # fmt: skip
TOK = {"kind": "word", "min_freq": 1}


@pytest.fixture
def mini(tmp_path):
    """A tiny pairs file and an empty cache: prepare() on them takes a fraction of a second."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pairs.tsv").write_text(PAIRS)
    return tmp_path / "data", tmp_path / "cache"


def build(mini):
    entry, _ = prepare(DATA, TOK, mini[0], mini[1])
    return entry.path


def snapshot(entry: Path) -> dict[str, bytes]:
    """Every file of an entry but meta.json (which records how long the build took)."""
    return {p.name: p.read_bytes() for p in sorted(entry.iterdir()) if p.name != "meta.json"}


@pytest.mark.parametrize(
    "damage",
    ["valid ids overwritten", "truncated npy", "broken tokenizers.json", "broken meta.json"],
)
def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(mini, caplog, damage):
    entry = build(mini)
    before = snapshot(entry)
    if damage == "valid ids overwritten":
        ids = np.load(entry / "train.tgt.npy")
        ids[:] = ids[0]  # still valid ids, but not the data's
        np.save(entry / "train.tgt.npy", ids)
    elif damage == "truncated npy":
        path = entry / "train.src.npy"
        path.write_bytes(path.read_bytes()[:-8])
    else:
        name = damage.split()[1]
        (entry / name).write_text((entry / name).read_text()[:-5])
    import seqlab.data.cache as cache

    cache._verified.clear()  # a new process
    with caplog.at_level("WARNING"):
        assert build(mini) == entry
    assert snapshot(entry) == before  # rebuilt as it was
    [warning] = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert warning.startswith(f"data cache entry {entry} is damaged (") and warning.endswith(
        "); rebuilding it"
    )


def test_a_run_notices_a_damaged_cache_entry_and_goes_on(cli, workdir, tmp_path):
    tmp, env = workdir
    cache = tmp_path / "cache"
    cli("train", *QUIET, "test=false", expect=0, env={"SEQLAB_CACHE_DIR": str(cache)})
    [ids] = cache.glob("*/train.tgt.npy")
    ids.write_bytes(ids.read_bytes()[:-4] + b"\x01\x00\x01\x00")
    proc = cli("train", *QUIET, "test=false", expect=0, env={"SEQLAB_CACHE_DIR": str(cache)})
    assert "is damaged (train.tgt.npy does not match its checksum); rebuilding it" in proc.stdout


def test_temp_folders_of_killed_builds_are_removed(mini):
    cache = mini[1]
    cache.mkdir()
    dead = cache / ".0123456789abcdef0123-killed"
    dead.mkdir()
    (dead / "train.src.npy").write_bytes(b"half")
    proc = os.fork() if hasattr(os, "fork") else None
    if proc == 0:
        os._exit(0)
    os.waitpid(proc, 0)  # a pid that surely no longer runs
    (dead / OWNER).write_text(f"{os.uname().nodename} {proc}")
    alive = cache / ".0123456789abcdef0123-building"
    alive.mkdir()
    (alive / OWNER).write_text(f"{os.uname().nodename} {os.getpid()}")
    unrelated = cache / ".hidden-thing"
    unrelated.mkdir()
    build(mini)
    assert not dead.exists() and alive.exists() and unrelated.exists()
    assert remove_abandoned(cache) == []


def test_chaos_random_damage_to_cache_files_is_always_repaired(mini):
    entry = build(mini)
    before = snapshot(entry)
    import seqlab.data.cache as cache

    rng = random.Random(1)
    names = [*sorted(before), "meta.json"]
    for trial in range(60):
        name = rng.choice(names)
        path = entry / name
        data = bytearray(path.read_bytes())
        if trial % 3 == 2:
            data = data[: rng.randrange(len(data))]
        else:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        cache._verified.clear()
        assert lookup(mini[1], entry.name) is None  # noticed, removed
        assert build(mini) == entry and snapshot(entry) == before, (trial, name)
