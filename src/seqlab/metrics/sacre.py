"""BLEU and chrF exactly as sacreBLEU scores a corpus, kept as its sufficient statistics.

sacreBLEU turns each example into integer counts (n-gram matches, lengths); the corpus score is a
function of their sum. Summing those counts in a tensor state makes the metric exact under DDP and
identical to ``sacrebleu.corpus_bleu`` / ``corpus_chrf`` on the same pairs (not a mean of sentence
scores).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from sacrebleu.metrics import BLEU, CHRF
from torch import Tensor

from seqlab.errors import SeqlabError
from seqlab.metrics.base import TextMetric, check_pairs

# ISO 639 codes whose text is written in Chinese characters, which carry no spaces between words.
CHINESE_LANGS = frozenset({"zh", "zho", "chi", "cmn", "yue", "lzh", "wuu"})
BLEU_TOKENIZERS = tuple(BLEU.TOKENIZERS)
_NO_EXAMPLES = torch.iinfo(torch.int64).max  # min_refs before any update, neutral under "min"


def default_bleu_tokenizer(tgt_lang: str | None) -> str:
    """sacreBLEU's tokenizer for a target language: ``zh`` for Chinese ("zh", "zh-CN", "cmn_Hans",
    ...), ``13a`` (the WMT standard) for everything else, including no language."""
    primary = re.split(r"[-_]", (tgt_lang or "").strip().lower())[0]
    return "zh" if primary in CHINESE_LANGS else "13a"


def resolve_bleu_tokenizer(setting: str | None, tgt_lang: str | None = None) -> str:
    """The tokenizer to use: ``auto`` (or None) picks from the target language, anything else must
    be one of sacreBLEU's tokenizers."""
    if setting is None or setting == "auto":
        return default_bleu_tokenizer(tgt_lang)
    if setting not in BLEU_TOKENIZERS:
        allowed = ", ".join(("auto", *BLEU_TOKENIZERS))
        raise SeqlabError(f"bleu_tokenize: unknown tokenizer {setting!r}; allowed: {allowed}")
    return setting


def signature_of(scorer: BLEU | CHRF, nrefs: int | str) -> str:
    """sacreBLEU's signature string for a configured scorer and a reference count ("var" = varies)."""
    scorer.num_refs = -1 if nrefs == "var" else int(nrefs)  # what corpus_score would have set
    return scorer.get_signature().format()


class _SacreMetric(TextMetric):
    """Sums a sacreBLEU scorer's per-example statistics; scores them at ``compute()``."""

    key: str

    def __init__(self, scorer: BLEU | CHRF, n_stats: int, **kwargs):
        super().__init__(**kwargs)
        self.scorer = scorer
        self.add_state(
            "stats", default=torch.zeros(n_stats, dtype=torch.long), dist_reduce_fx="sum"
        )
        # Reference counts per example, for the signature's nrefs (a number, or "var").
        self.add_state("min_refs", default=torch.tensor(_NO_EXAMPLES), dist_reduce_fx="min")
        self.add_state("max_refs", default=torch.tensor(0), dist_reduce_fx="max")
        self._synced_nrefs: tuple[int, int] | None = None

    def update(self, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
        check_pairs(hyps, refs)
        if not hyps:
            return
        # sacreBLEU takes reference *streams* (the j-th reference of every example); None marks an
        # example with fewer references, which sacreBLEU skips.
        width = max(len(r) for r in refs)
        streams = [[r[j] if j < len(r) else None for r in refs] for j in range(width)]
        stats = self.scorer._extract_corpus_statistics(list(hyps), streams)
        self.stats += torch.tensor(stats, dtype=torch.long).sum(0).to(self.stats.device)
        counts = [len(r) for r in refs]
        self.min_refs = torch.clamp(self.min_refs, max=min(counts))
        self.max_refs = torch.clamp(self.max_refs, min=max(counts))

    def compute(self) -> dict[str, Tensor]:
        # States are synced across processes here; remember the global counts for signature().
        self._synced_nrefs = (int(self.min_refs), int(self.max_refs))
        score = self.scorer._compute_score_from_stats(self.stats.tolist()).score
        return {self.key: torch.tensor(score, dtype=torch.float32, device=self.stats.device)}

    def signature(self) -> str:
        """The signature for the references seen (global after ``compute()``); nrefs is 1 when
        nothing was scored."""
        lo, hi = self._synced_nrefs or (int(self.min_refs), int(self.max_refs))
        nrefs: int | str = 1 if hi == 0 else (hi if lo == hi else "var")
        return signature_of(self.scorer, nrefs)

    def reset(self) -> None:
        super().reset()
        self._synced_nrefs = None


class Bleu(_SacreMetric):
    """Corpus BLEU (0–100), sacreBLEU defaults: exponential smoothing, 4-grams.

    Args:
        tokenize: sacreBLEU tokenizer ("13a", "zh", "intl", "char", ...).
        lowercase: case-insensitive BLEU.
    """

    key = "bleu"

    def __init__(self, tokenize: str = "13a", lowercase: bool = False, **kwargs):
        scorer = BLEU(tokenize=resolve_bleu_tokenizer(tokenize), lowercase=lowercase)
        super().__init__(scorer, n_stats=2 + 2 * scorer.max_ngram_order, **kwargs)


class ChrF(_SacreMetric):
    """Corpus chrF (0–100), sacreBLEU defaults: character 6-grams, beta 2, no word n-grams.

    Args:
        lowercase: case-insensitive chrF.
    """

    key = "chrf"

    def __init__(self, lowercase: bool = False, **kwargs):
        scorer = CHRF(lowercase=lowercase)
        super().__init__(scorer, n_stats=3 * scorer.order, **kwargs)
