"""Task datasets composed through Hydra: translation, summarization, QA and the user's own files.

Each config reads the real files under the data root through `load_splits`, and `prepare` carries
the examples' extras (bAbI task labels, SciTLDR's several TL;DRs) into the evaluation texts.
"""

import json

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from seqlab.config import validate
from seqlab.data.cache import CacheWriter
from seqlab.data.datasets import load_splits, split_files
from seqlab.data.modules import Seq2SeqDataModule
from seqlab.data.prepare import _write_pairs, prepare
from seqlab.errors import SeqlabError

LOADER = {"batch_size": 32, "eval_batch_size": None, "max_tokens": None, "num_workers": 0}


def compose_train(name: str, *overrides: str):
    with initialize_config_module("seqlab.conf", version_base="1.3"):
        return compose("train", [f"data={name}", *overrides, "paths.output_dir=/tmp/x"])


def data_cfg(name: str, *overrides: str) -> dict:
    cfg = compose_train(name, *overrides)
    return OmegaConf.to_container(cfg.data, resolve=True)


def sizes(splits: dict) -> list[int]:
    return [len(splits[s]) for s in ("train", "val", "test")]


# --- translation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("src,tgt", [("eng", "fra"), ("fra", "eng")])
def test_tatoeba_eng_fra_direction_and_carved_splits(data_root, src, tgt):
    splits = load_splits(
        data_cfg("tatoeba_eng_fra", f"data.src_lang={src}", f"data.tgt_lang={tgt}"), data_root
    )
    assert sum(sizes(splits)) == 135_842 and sizes(splits) == [130_463, 2_662, 2_717]
    by_lang = dict(zip((src, tgt), splits["test"][0], strict=True))
    assert by_lang == {"eng": "We try.", "fra": "On essaye."}  # seeded: the same pair either way


@pytest.mark.parametrize("src,tgt", [("cmn", "eng"), ("eng", "cmn")])
def test_tatoeba_cmn_eng_direction_ignores_attribution(data_root, src, tgt):
    splits = load_splits(
        data_cfg("tatoeba_cmn_eng", f"data.src_lang={src}", f"data.tgt_lang={tgt}"), data_root
    )
    assert sum(sizes(splits)) == 23_610
    pairs = [p for s in ("train", "val", "test") for p in splits[s]]
    zh = [p[0] if src == "cmn" else p[1] for p in pairs]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in zh[:200])
    assert not any("Attribution" in t for p in pairs for t in p)


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["data.src_lang=de"], "data.src_lang='de' is not a language of dataset 'tatoeba_eng_fra'; choose one of eng, fra"),
        (["data.tgt_lang=zh"], "data.tgt_lang='zh' is not a language of dataset 'tatoeba_eng_fra'; choose one of eng, fra"),
        (["data.tgt_lang=eng"], "data.src_lang and data.tgt_lang are both 'eng'; choose two different languages of eng, fra"),
    ],
)  # fmt: skip
def test_language_not_in_file_is_one_line(data_root, overrides, message):
    cfg = compose_train("tatoeba_eng_fra", *overrides)
    with pytest.raises(SeqlabError) as err:
        validate(cfg)  # refused before any file is read
    assert str(err.value) == message
    with pytest.raises(SeqlabError, match="choose"):
        load_splits(OmegaConf.to_container(cfg.data, resolve=True), data_root)


# --- summarization ---------------------------------------------------------------------------------


def test_scitldr_splits_and_targets(data_root):
    first = load_splits(data_cfg("scitldr"), data_root)
    assert sizes(first) == [1_992, 619, 618]
    assert sum(len(x[2]["refs"]) for x in first["test"]) == 1_967
    every = load_splits(data_cfg("scitldr", "data.targets=all"), data_root)
    assert len(every["train"]) == 1_992  # SciTLDR-A train has one TL;DR per paper
    assert sizes(every)[1:] == [619, 618]  # evaluation keeps one example per paper


def test_scitldr_references_reach_the_texts(data_root, cache_dir):
    cfg = compose_train("scitldr")
    dm = Seq2SeqDataModule(cfg.data, cfg.tokenizer, LOADER, data_root, cache_dir)
    texts = dm.texts("test")
    assert set(texts) == {"src", "tgt", "refs"} and len(texts["refs"]) == 618
    assert sum(len(r) for r in texts["refs"]) == 1_967
    assert all(r[0] == t for r, t in zip(texts["refs"], texts["tgt"], strict=True))
    assert max(len(r) for r in texts["refs"]) == 4
    assert len(dm.texts("val")["refs"]) == 619


# --- QA ---------------------------------------------------------------------------------------------


def test_babi_all_tasks_jointly_with_task_labels(data_root):
    cfg = data_cfg("babi")
    files = split_files(cfg)
    assert len(files) == 40 and all((data_root / f).is_file() for f in files)
    assert {f["path"] for f in cfg["files"]} == set(files)
    splits = load_splits(cfg, data_root)
    assert sizes(splits) == [18_000, 2_000, 20_000]
    groups = [x[2]["group"] for x in splits["test"]]
    assert groups == [f"qa{n}" for n in range(1, 21) for _ in range(1_000)]
    assert {x[2]["group"] for x in splits["val"]} == {f"qa{n}" for n in range(1, 21)}


def test_babi_task_selection(data_root, cache_dir):
    cfg = compose_train("babi", "data.tasks=[2,1]")
    plain = OmegaConf.to_container(cfg.data, resolve=True)
    assert split_files(plain) == [
        "babi/en/qa1_single-supporting-fact_train.txt",
        "babi/en/qa2_two-supporting-facts_train.txt",
        "babi/en/qa1_single-supporting-fact_test.txt",
        "babi/en/qa2_two-supporting-facts_test.txt",
    ]
    entry, _ = prepare(cfg.data, cfg.tokenizer, data_root, cache_dir)
    counts = entry.json("meta")["counts"]
    assert (counts["train_examples"], counts["val_examples"], counts["test_examples"]) == (
        1_800,
        200,
        2_000,
    )
    texts = entry.json("test.text")
    assert set(texts) == {"src", "tgt", "group"} and texts["group"][0] == "qa1"
    assert texts["group"].count("qa1") == texts["group"].count("qa2") == 1_000
    assert texts["src"][0].endswith("Where is John?") and texts["tgt"][0] == "hallway"


@pytest.mark.parametrize("tasks", ["[0]", "[1,21]", "'[]'", "some"])
def test_babi_bad_task_selection(tasks):
    with pytest.raises(
        SeqlabError,
        match=r"^data\.tasks=.* is not valid; choose all or a list of task numbers from 1 to 20",
    ):
        validate(compose_train("babi", f"data.tasks={tasks}"))


# --- the user's own files ---------------------------------------------------------------------------


def test_pairs_file_formats_carve_splits(tmp_path):
    rows = [(f"source {i}", f"target {i}") for i in range(100)]
    (tmp_path / "p.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in rows))
    (tmp_path / "p.csv").write_text("".join(f'"{s}, x",{t}\n' for s, t in rows))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"q": s, "a": t}) + "\n" for s, t in rows))
    tsv = load_splits(data_cfg("pairs_file", "data.format=tsv", "data.path=p.tsv"), tmp_path)
    assert sizes(tsv) == [90, 5, 5] and sorted(tsv["train"] + tsv["val"] + tsv["test"]) == sorted(
        rows
    )
    csv = load_splits(data_cfg("pairs_file", "data.format=csv", "data.path=p.csv"), tmp_path)
    assert csv["train"][0][0].endswith(", x") and sizes(csv) == [90, 5, 5]
    cfg = data_cfg(
        "pairs_file",
        "data.format=jsonl",
        "data.path=p.jsonl",
        "data.fields.src=q",
        "data.fields.tgt=a",
    )
    assert load_splits(cfg, tmp_path) == tsv  # same seed, same carve-out


def test_pairs_file_own_splits_and_absolute_path(tmp_path, cache_dir):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir(), elsewhere.mkdir()
    train = elsewhere / "train.tsv"
    train.write_text("id\tsrc\ttgt\n" + "".join(f"{i}\ts{i}\tt{i}\n" for i in range(20)))
    (root / "dev.tsv").write_text("id\tsrc\ttgt\n1\tdev s\tdev t\n")
    overrides = ["data.format=tsv", f"data.path={train}", "data.splits.val=dev.tsv", "data.header=true",
                 "data.columns.src=src", "data.columns.tgt=tgt", "data.test_fraction=0.1"]  # fmt: skip
    cfg = compose_train("pairs_file", *overrides)
    validate(cfg)
    plain = OmegaConf.to_container(cfg.data, resolve=True)
    assert split_files(plain) == [str(train), "dev.tsv"]
    splits = load_splits(plain, root)
    assert sizes(splits) == [18, 1, 2] and splits["val"] == [("dev s", "dev t")]
    entry, _ = prepare(cfg.data, cfg.tokenizer, root, cache_dir)
    assert entry.json("val.text") == {
        "src": ["dev s"],
        "tgt": ["dev t"],
    }  # no extras, no extra keys


def test_pairs_file_jsonl_groups_and_references(tmp_path, cache_dir):
    records = [
        {"q": f"q {i}", "a": f"a {i}", "kind": f"k{i % 2}", "alts": [f"a {i}", f"alt  {i}"]}
        for i in range(40)
    ]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    cfg = compose_train("pairs_file", "data.format=jsonl", "data.path=qa.jsonl", "data.fields.src=q", "data.fields.tgt=a",
                        "data.fields.group=kind", "data.fields.refs=alts", "data.val_fraction=0.25")  # fmt: skip
    entry, _ = prepare(cfg.data, cfg.tokenizer, tmp_path, cache_dir)
    texts = entry.json("val.text")
    assert len(texts["src"]) == len(texts["group"]) == len(texts["refs"]) == 10
    i = int(texts["src"][0].split()[1])
    assert texts["group"][0] == f"k{i % 2}" and texts["refs"][0] == [
        f"a {i}",
        f"alt {i}",
    ]  # refs cleaned


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["data.format=tsv"], "data.path is required for dataset 'pairs_file'; set it to your file"),
        (["data.path=p.tsv"], "data.format is required for dataset 'pairs_file'; set it to one of tsv, csv, jsonl"),
        (["data.path=p.tsv", "data.format=xml"], "data.format='xml' is not valid; choose one of tsv, csv, jsonl"),
    ],
)  # fmt: skip
def test_pairs_file_required_keys(overrides, message):
    with pytest.raises(SeqlabError, match=message.replace(".", r"\.")):
        validate(compose_train("pairs_file", *overrides))


@pytest.mark.parametrize(
    "fmt,text,problem",
    [
        ("csv", "a,b\nno comma\n", "p.csv:2: expected at least 2 comma-separated columns, found 1"),
        ("tsv", "a\tb\nno tab\n", "p.tsv:2: expected at least 2 tab-separated columns, found 1"),
        ("jsonl", '{"source": "s", "target": "t"}\n{"source": "s"}\n', "p.jsonl:2: missing field 'target'"),
        ("jsonl", '{"source": "s", "target": "t"}\n{"source": \n', "p.jsonl:2: invalid JSON"),
    ],
)  # fmt: skip
def test_pairs_file_malformed_line_names_file_and_line(tmp_path, fmt, text, problem):
    (tmp_path / f"p.{fmt}").write_text(text)
    with pytest.raises(SeqlabError) as err:
        load_splits(data_cfg("pairs_file", f"data.format={fmt}", f"data.path=p.{fmt}"), tmp_path)
    assert str(err.value).startswith(f"{tmp_path / problem}") and "\n" not in str(err.value)


def test_text_file_tails_and_prepare(tmp_path, cache_dir):
    lines = [f"line {i} of my text" for i in range(200)]
    (tmp_path / "mine.txt").write_text("\n".join(lines) + "\n")
    cfg = compose_train("text_file", "task=lm", "model=gpt", "data.path=mine.txt", "tokenizer=char")
    validate(cfg)
    splits = load_splits(OmegaConf.to_container(cfg.data, resolve=True), tmp_path)
    assert splits["train"] + splits["val"] + splits["test"] == (tmp_path / "mine.txt").read_text()
    assert splits["test"].endswith("line 199 of my text\n") and "\n" in splits["train"]
    entry, toks = prepare(cfg.data, cfg.tokenizer, tmp_path, cache_dir)
    assert len(entry.array("train.ids")) == len(splits["train"])  # char tokens, newlines kept


# --- extras through _write_pairs ----------------------------------------------------------------------


def test_write_pairs_extras_only_where_given(tmp_path):
    splits = {
        "train": [("a b", "c"), ("", "dropped"), ("x", "y", {"group": "g", "refs": ["y", "z"]})],
        "val": [("a", "b", {"group": "g1"}), ("c", "d")],
        "test": [("a", "b", {"refs": ["b", "ｂ２"]}), ("c", "d"), ("e", "f", {})],
    }
    cleaning = {"normalize": "NFKC", "collapse_whitespace": True, "min_len": 1}
    writer = CacheWriter(tmp_path, "entry")
    _, counts = _write_pairs(writer, splits, cleaning, {"kind": "word", "min_freq": 1}, None)
    entry = writer.commit({"key": "entry"})
    assert counts["train_examples"] == 2 and counts["train_dropped_too_short"] == 1
    assert not (entry.path / "train.text.json").exists()
    assert entry.json("val.text") == {"src": ["a", "c"], "tgt": ["b", "d"], "group": ["g1", None]}
    assert entry.json("test.text") == {
        "src": ["a", "c", "e"], "tgt": ["b", "d", "f"], "refs": [["b", "b2"], ["d"], ["f"]],
    }  # fmt: skip


# --- every new config: compose, load, prepare ----------------------------------------------------------


@pytest.mark.parametrize(
    "name,overrides,counts",
    [
        ("tatoeba_eng_fra", [], (130_463, 2_662, 2_717)),
        ("tatoeba_cmn_eng", ["tokenizer=char"], (21_308, 1_122, 1_180)),
        ("scitldr", [], (1_992, 619, 618)),
        ("babi", [], (18_000, 2_000, 20_000)),
    ],
)
def test_new_configs_prepare(data_root, cache_dir, name, overrides, counts):
    cfg = compose_train(name, *overrides)
    validate(cfg)
    entry, toks = prepare(cfg.data, cfg.tokenizer, data_root, cache_dir)
    c = entry.json("meta")["counts"]
    assert (c["train_examples"], c["val_examples"], c["test_examples"]) == counts
    assert len(entry.json("test.text")["tgt"]) == counts[2]
    assert toks["src"].vocab_size > 6
