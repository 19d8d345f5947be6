"""Text metrics by name, as task configs list them, and sacreBLEU signatures for results.json."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sacrebleu.metrics import BLEU, CHRF

from seqlab.errors import SeqlabError
from seqlab.metrics.base import TextMetric
from seqlab.metrics.qa import QAF1, TextExactMatch
from seqlab.metrics.rouge import Rouge
from seqlab.metrics.sacre import Bleu, ChrF, resolve_bleu_tokenizer, signature_of

# name -> (tokenize, lowercase) -> metric; each metric's compute() keys are in its docstring.
_FACTORIES: dict[str, Callable[[str, bool], TextMetric]] = {
    "bleu": lambda tok, lc: Bleu(tokenize=tok, lowercase=lc),
    "chrf": lambda tok, lc: ChrF(lowercase=lc),
    "rouge": lambda tok, lc: Rouge(),
    "qa_f1": lambda tok, lc: QAF1(),
    "exact_match_text": lambda tok, lc: TextExactMatch(),
}
TEXT_METRICS = tuple(_FACTORIES)


def _check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in _FACTORIES]
    if unknown:
        raise SeqlabError(f"metrics: unknown {unknown}; allowed: {', '.join(TEXT_METRICS)}")


def build_text_metrics(
    names: Sequence[str],
    *,
    bleu_tokenize: str = "13a",
    lowercase: bool = False,
    tgt_lang: str | None = None,
) -> dict[str, TextMetric]:
    """One fresh metric per name, in the order given.

    Args:
        names: among ``bleu`` ({"bleu"}, 0–100), ``chrf`` ({"chrf"}, 0–100), ``rouge``
            ({"rouge1", "rouge2", "rougeL"}, 0–100), ``qa_f1`` ({"qa_f1"}, 0–100) and
            ``exact_match_text`` ({"exact_match_text"}, 0–1).
        bleu_tokenize: sacreBLEU tokenizer for BLEU, or ``auto`` to pick it from ``tgt_lang``.
        lowercase: case-insensitive BLEU and chrF (ROUGE and QA scores always ignore case).
        tgt_lang: target language code, used by ``bleu_tokenize="auto"``.
    """
    _check_names(names)
    tokenize = resolve_bleu_tokenizer(bleu_tokenize, tgt_lang)
    return {n: _FACTORIES[n](tokenize, lowercase) for n in dict.fromkeys(names)}


def metric_signatures(
    names: Sequence[str],
    *,
    bleu_tokenize: str = "13a",
    lowercase: bool = False,
    tgt_lang: str | None = None,
    nrefs: int | str = 1,
) -> dict[str, str]:
    """sacreBLEU signatures of the named metrics that have one (``bleu``, ``chrf``), e.g.
    ``{"bleu": "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"}``.

    ``nrefs`` is references per example, or "var" when it varies. A metric that has scored data
    gives the signature for what it saw with ``metric.signature()`` (after ``compute()`` under DDP).
    """
    _check_names(names)
    tokenize = resolve_bleu_tokenizer(bleu_tokenize, tgt_lang)
    scorers = {
        "bleu": lambda: BLEU(tokenize=tokenize, lowercase=lowercase),
        "chrf": lambda: CHRF(lowercase=lowercase),
    }
    return {n: signature_of(scorers[n](), nrefs) for n in dict.fromkeys(names) if n in scorers}
