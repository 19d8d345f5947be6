"""Metrics: known values (sacreBLEU's own example, rouge-score's definition, SQuAD F1 by hand),
several references per example, the Chinese tokenizer, and state sync across processes."""

import json

import pytest
import sacrebleu
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from seqlab.errors import SeqlabError
from seqlab.metrics import (
    TEXT_METRICS,
    ExactMatch,
    GroupedAccuracy,
    TextMetric,
    build_text_metrics,
    default_bleu_tokenizer,
    metric_signatures,
    resolve_bleu_tokenizer,
)
from seqlab.metrics.qa import normalize_answer, token_f1
from seqlab.metrics.rouge import rouge_f

# sacreBLEU's README example: three hypotheses, two reference streams.
HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
STREAMS = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
]
REFS = [list(r) for r in zip(*STREAMS, strict=True)]  # per example: its references
ZH_HYPS = ["猫坐在垫子上。", "今天天气很好，我们去公园散步吧。"]
ZH_REFS = [["猫坐在了垫子上。"], ["今天天气不错，我们去公园散步。"]]
VERSION = sacrebleu.__version__


def score(name: str, hyps, refs, **kwargs) -> dict[str, float]:
    metric = build_text_metrics([name], **kwargs)[name]
    metric.update(hyps, refs)
    return {k: float(v) for k, v in metric.compute().items()}


# ---- BLEU and chrF: sacreBLEU's corpus scores ----------------------------------------------------


def test_bleu_and_chrf_match_sacrebleu_readme_example_with_two_references():
    bleu, chrf = score("bleu", HYPS, REFS)["bleu"], score("chrf", HYPS, REFS)["chrf"]
    assert round(bleu, 2) == 48.53 and round(chrf, 2) == 59.73  # the values in sacreBLEU's README
    assert bleu == pytest.approx(sacrebleu.corpus_bleu(HYPS, STREAMS).score, rel=1e-6)
    assert chrf == pytest.approx(sacrebleu.corpus_chrf(HYPS, STREAMS).score, rel=1e-6)


def test_bleu_is_corpus_level_not_a_mean_of_sentences_and_batching_does_not_matter():
    one_ref = [r[:1] for r in REFS]
    metric = build_text_metrics(["bleu"])["bleu"]
    metric.update(HYPS[:1], one_ref[:1])
    metric.update(HYPS[1:], one_ref[1:])
    corpus = sacrebleu.corpus_bleu(HYPS, STREAMS[:1]).score
    assert float(metric.compute()["bleu"]) == pytest.approx(corpus, rel=1e-6)
    sentences = [sacrebleu.sentence_bleu(h, r).score for h, r in zip(HYPS, one_ref, strict=True)]
    assert corpus != pytest.approx(sum(sentences) / len(sentences), abs=0.1)


def test_variable_reference_counts_follow_sacrebleu_and_sign_nrefs_var():
    refs = [REFS[0][:1], REFS[1], REFS[2][:1]]
    streams = [[r[0] for r in refs], [None, REFS[1][1], None]]
    metrics = build_text_metrics(["bleu", "chrf"])
    for metric in metrics.values():
        metric.update(HYPS, refs)
    assert float(metrics["bleu"].compute()["bleu"]) == pytest.approx(
        sacrebleu.corpus_bleu(HYPS, streams).score, rel=1e-6
    )
    assert float(metrics["chrf"].compute()["chrf"]) == pytest.approx(
        sacrebleu.corpus_chrf(HYPS, streams).score, rel=1e-6
    )
    assert metrics["bleu"].signature().startswith("nrefs:var|")


def test_chinese_uses_the_zh_tokenizer_automatically():
    assert default_bleu_tokenizer("zh") == default_bleu_tokenizer("zh-CN") == "zh"
    assert default_bleu_tokenizer("cmn_Hans") == default_bleu_tokenizer("ZHO") == "zh"
    assert default_bleu_tokenizer("en") == default_bleu_tokenizer(None) == "13a"
    zh = score("bleu", ZH_HYPS, ZH_REFS, bleu_tokenize="auto", tgt_lang="zh")["bleu"]
    assert round(zh, 2) == 62.03
    assert zh == pytest.approx(
        sacrebleu.corpus_bleu(ZH_HYPS, [[r[0] for r in ZH_REFS]], tokenize="zh").score, rel=1e-6
    )
    # 13a leaves each Chinese sentence one token, so the score would say nothing.
    assert score("bleu", ZH_HYPS, ZH_REFS)["bleu"] == 0.0


def test_explicit_tokenizer_overrides_the_language_and_unknown_names_are_refused():
    assert resolve_bleu_tokenizer("intl", "zh") == "intl"
    assert resolve_bleu_tokenizer("auto", "zh") == "zh"
    with pytest.raises(SeqlabError, match="bleu_tokenize"):
        resolve_bleu_tokenizer("moses", "en")
    with pytest.raises(SeqlabError, match="allowed: bleu"):
        build_text_metrics(["bleu", "meteor"])


def test_lowercase_option_reaches_bleu_and_chrf():
    hyps, refs = ["THE DOG BIT THE MAN."], [["The dog bit the man."]]
    assert score("bleu", hyps, refs, lowercase=True)["bleu"] == pytest.approx(100.0)
    assert score("chrf", hyps, refs, lowercase=True)["chrf"] == pytest.approx(100.0)
    assert score("bleu", hyps, refs)["bleu"] < 50


def test_signatures_name_the_settings():
    sigs = metric_signatures(
        ["bleu", "chrf", "rouge"], bleu_tokenize="auto", tgt_lang="zh", nrefs=2
    )
    assert sigs == {
        "bleu": f"nrefs:2|case:mixed|eff:no|tok:zh|smooth:exp|version:{VERSION}",
        "chrf": f"nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:{VERSION}",
    }
    lc = metric_signatures(["bleu"], lowercase=True)["bleu"]
    assert lc == f"nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:{VERSION}"
    metric = build_text_metrics(["bleu"])["bleu"]
    metric.update(HYPS, REFS)
    metric.compute()
    assert metric.signature() == f"nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:{VERSION}"


# ---- ROUGE: rouge-score's F-measure with stemming, best reference per example --------------------


def test_rouge_known_values():
    # By hand: unigrams my/name/is/john vs is/your/name/john share 3 of 4; no bigram; LCS "name john".
    assert rouge_f("My name is John", ["Is your name John"]) == pytest.approx((0.75, 0.0, 0.5))
    # Stemming: running -> run, dogs/dog -> dog, runs -> run.
    assert rouge_f("running dogs", ["the dog runs"]) == pytest.approx((0.8, 0.0, 0.4))
    assert rouge_f("running dogs", ["the dog runs"], stem=False) == (0.0, 0.0, 0.0)
    # Values from rouge-score 0.1.2 (RougeScorer(use_stemmer=True).score_multi): 14/19, 4/17, 12/19.
    hyp = "We propose a new method for training neural networks faster."
    refs = [
        "A new training method makes neural networks train faster.",
        "We show how to train networks quickly.",
    ]
    assert rouge_f(hyp, refs) == pytest.approx((14 / 19, 4 / 17, 12 / 19), abs=1e-12)


def test_rouge_takes_the_best_reference_per_type_and_averages_examples():
    # rouge1 is best against the shuffled reference, rouge2 and rougeL against the other.
    hyp, refs = "the quick brown fox jumps", ["fox brown quick the jumps", "the quick brown cat"]
    assert rouge_f(hyp, refs) == pytest.approx((1.0, 4 / 7, 2 / 3))
    out = score("rouge", [hyp, "My name is John"], [refs, ["Is your name John"]])
    assert out == pytest.approx(
        {
            "rouge1": 100 * (1 + 0.75) / 2,
            "rouge2": 100 * (4 / 7) / 2,
            "rougeL": 100 * (2 / 3 + 0.5) / 2,
        }
    )


def test_rouge_equals_the_rouge_score_package():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    words = " ".join([*HYPS, *STREAMS[0], *STREAMS[1]]).split()  # mixed case, punctuation
    gen = torch.Generator().manual_seed(0)

    def sentence(n: int) -> str:
        return " ".join(words[i] for i in torch.randint(len(words), (n,), generator=gen).tolist())

    hyps = [sentence(int(n)) for n in torch.randint(0, 25, (200,), generator=gen)]
    refs = [
        [sentence(int(n)) for n in torch.randint(1, 25, (int(k),), generator=gen)]
        for k in torch.randint(1, 4, (200,), generator=gen)
    ]
    reference = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for hyp, ref in zip(hyps, refs, strict=True):
        expected = reference.score_multi(ref, hyp)
        got = rouge_f(hyp, ref)
        assert got == pytest.approx(
            tuple(expected[k].fmeasure for k in ("rouge1", "rouge2", "rougeL")), abs=1e-12
        )


# ---- QA: SQuAD normalisation, token F1, exact match ----------------------------------------------


def test_squad_normalisation_and_token_f1_by_hand():
    assert normalize_answer("  The Eiffel-Tower, in PARIS! ") == "eiffeltower in paris"
    assert token_f1("the Eiffel Tower", "Eiffel tower in Paris") == pytest.approx(
        2 / 3
    )  # P 1, R 1/2
    assert token_f1("Paris!", "paris") == 1.0
    assert token_f1("an apple", "apple") == 1.0
    assert token_f1("London", "Paris") == 0.0
    assert token_f1("the", "a") == 1.0  # both empty after normalisation (SQuAD 2.0 rule)
    assert token_f1("", "Paris") == 0.0
    # "red red car" vs "red car car": common red x1, car x1 -> P = R = 2/3.
    assert token_f1("red red car", "red car car") == pytest.approx(2 / 3)


def test_qa_f1_and_exact_match_take_the_best_answer():
    hyps = ["the Eiffel Tower", "1889", "Gustave"]
    refs = [
        ["Eiffel tower in Paris", "The Eiffel Tower"],
        ["in 1889"],
        ["Gustave Eiffel", "Eiffel"],
    ]
    # best F1: 1 (second answer), 2/3 (P 1, R 1/2), 2/3 (P 1, R 1/2)
    assert score("qa_f1", hyps, refs) == pytest.approx({"qa_f1": 100 * (1 + 2 / 3 + 2 / 3) / 3})
    assert score("exact_match_text", hyps, refs) == pytest.approx({"exact_match_text": 1 / 3})


# ---- shared behaviour ---------------------------------------------------------------------------


def test_every_text_metric_has_tensor_states_and_refuses_bad_shapes():
    metrics = build_text_metrics(TEXT_METRICS)
    assert list(metrics) == list(TEXT_METRICS)
    for metric in metrics.values():
        assert isinstance(metric, TextMetric) and not metric.full_state_update
        assert metric._defaults and all(
            isinstance(v, torch.Tensor) for v in metric._defaults.values()
        )
        assert all(fx is not None for fx in metric._reductions.values())
        with pytest.raises(TypeError, match="non-empty list"):
            metric.update(["a b"], ["a b"])  # a bare string, not a list of references
        with pytest.raises(ValueError, match="reference lists"):
            metric.update(["a", "b"], [["a"]])


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_reset_clears_scores_and_empty_metrics_compute_zero():
    for name, metric in build_text_metrics(TEXT_METRICS).items():
        metric.update(HYPS, REFS)
        metric.reset()
        assert all(float(v) == 0.0 for v in metric.compute().values()), name
        assert metric.signature() in (None, metric_signatures([name]).get(name))


def _split_and_merge(name: str, hyps, refs) -> tuple[dict, dict]:
    whole, left, right = (build_text_metrics([name], bleu_tokenize="13a")[name] for _ in range(3))
    whole.update(hyps, refs)
    left.update(hyps[:2], refs[:2])
    right.update(hyps[2:], refs[2:])
    left.merge_state(right)  # what DDP sync does with the sum / min / max reductions
    return whole.compute(), left.compute()


@pytest.mark.parametrize("name", TEXT_METRICS)
def test_merged_states_equal_one_pass(name):
    hyps = [*HYPS, "the Eiffel Tower"]
    refs = [REFS[0], REFS[1][:1], REFS[2], ["The Eiffel Tower", "Eiffel tower in Paris"]]
    whole, merged = _split_and_merge(name, hyps, refs)
    assert whole.keys() == merged.keys()
    for key in whole:
        assert torch.equal(whole[key], merged[key]), key


# ---- exact match on ids, grouped accuracy --------------------------------------------------------


def test_exact_match_on_ids_stops_at_eos():
    pad, eos = 0, 2
    em = ExactMatch()
    hyp = torch.tensor([[5, 6, eos, 9], [5, 7, eos, 0]])
    ref = torch.tensor([[5, 6, eos], [5, 6, eos]])
    em.update(hyp, ref, pad, eos)
    assert float(em.compute()) == 0.5


def test_grouped_accuracy_per_group_and_mean():
    acc = GroupedAccuracy(["qa1", "qa2", "qa3"])
    acc.update(torch.tensor([True, False, True, True]), torch.tensor([0, 0, 1, 1]))
    out = {k: float(v) for k, v in acc.compute().items()}
    assert out == {"qa1": 0.5, "qa2": 1.0, "mean": 0.75}  # qa3 saw nothing: left out
    acc.reset()
    acc.update(torch.tensor([True, False, True, True]), torch.tensor([0, 0, 1, 1]))
    acc.update(torch.tensor([False]), torch.tensor([2]))
    assert float(acc.compute()["mean"]) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    with pytest.raises(ValueError, match="outside"):
        acc.update(torch.tensor([True]), torch.tensor([3]))
    with pytest.raises(ValueError, match="distinct"):
        GroupedAccuracy(["a", "a"])


# ---- real sync across two processes (gloo) --------------------------------------------------------


def _ddp_worker(rank: int, store: str, out: str, hyps, refs) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        metrics = build_text_metrics(TEXT_METRICS)
        mine = range(rank, len(hyps), 2)
        for metric in metrics.values():
            metric.update([hyps[i] for i in mine], [refs[i] for i in mine])
        values = {k: float(v) for m in metrics.values() for k, v in m.compute().items()}
        groups = GroupedAccuracy(["even", "odd"])
        groups.update(torch.tensor([rank == 0, True]), torch.tensor([rank, rank]))
        values |= {f"group/{k}": float(v) for k, v in groups.compute().items()}
        values["signature"] = metrics["bleu"].signature()
        with open(f"{out}.{rank}", "w") as f:
            json.dump(values, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_sync_equals_one_process(tmp_path):
    # Rank 0 scores the examples with one reference, rank 1 those with two: only a synced
    # signature can say "var".
    hyps = HYPS + ["the Eiffel Tower"]
    refs = [REFS[0][:1], REFS[1], REFS[2][:1], ["The Eiffel Tower", "Eiffel tower in Paris"]]
    out = tmp_path / "values"
    mp.spawn(_ddp_worker, args=(str(tmp_path / "store"), str(out), hyps, refs), nprocs=2)
    single = build_text_metrics(TEXT_METRICS)
    expected = {}
    for metric in single.values():
        metric.update(hyps, refs)
        expected |= {k: float(v) for k, v in metric.compute().items()}
    expected |= {"group/even": 1.0, "group/odd": 0.5, "group/mean": 0.75}
    expected["signature"] = f"nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:{VERSION}"
    for rank in (0, 1):
        assert json.loads((tmp_path / f"values.{rank}").read_text()) == expected


def test_checkpoints_are_picked_on_the_decoded_score_where_validation_decodes():
    from seqlab.metrics.names import default_monitor, monitor_mode

    translation = {"kind": "seq2seq", "metrics": ["exact_match", "bleu", "chrf"],
                   "primary_metric": "bleu", "val_generate_limit": 1000}  # fmt: skip
    assert default_monitor(translation, {}) == "val/bleu"
    assert default_monitor(translation, {"primary_metric": "exact_match"}) == "val/exact_match"
    # The data's score only where the task logs it; no decoding at validation: the loss.
    assert default_monitor(translation, {"primary_metric": "rougeL"}) == "val/bleu"
    assert default_monitor({**translation, "val_generate_limit": 0}, {}) == "val/loss"
    summarization = {"kind": "seq2seq", "metrics": ["rouge", "bleu"], "primary_metric": "rougeL"}
    assert default_monitor(summarization, {}) == "val/rougeL"
    assert default_monitor({"kind": "lm", "metrics": []}, {"primary_metric": "bleu"}) == "val/loss"
    assert [monitor_mode(m) for m in ("val/loss", "val/ppl", "val/bleu", "val/qa_f1")] == [
        "min", "min", "max", "max"]  # fmt: skip


def test_task_metric_names_have_one_home():
    from seqlab import config
    from seqlab.metrics.names import LOGGED_KEYS, TASK_METRICS

    assert config.TASK_METRICS is TASK_METRICS
    # Every text metric logs the keys listed for it.
    for name in TEXT_METRICS:
        metric = build_text_metrics([name])[name]
        metric.update(["a b c"], [["a b c"]])
        assert tuple(metric.compute()) == LOGGED_KEYS[name], name
