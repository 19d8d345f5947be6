"""How a model's own tokenizer frames a source and a target: the special tokens before the text.

Fine-tuning should show a pre-trained model inputs shaped as its authors' tokenizer makes them
(BART: ``<s> text </s>``; T5 and Marian: ``text </s>``; mBART-50: ``[src_lang] text </s>`` and
``[tgt_lang] text </s>``). seqlab ends every sequence with its own <eos>, so the tokenizer only
has to add what comes before the text; that prefix is read from the tokenizer itself (its
post-processor, ``build_inputs_with_special_tokens`` and target mode), not from a list of families.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

PROBE = "a b c"  # any plain text: only the ids around its own count


def _split(framed: list[int], plain: list[int]) -> tuple[list[int], list[int]] | None:
    """``framed`` as (prefix, suffix) around ``plain``, or None when ``plain`` is not inside it."""
    for start in range(len(framed) - len(plain) + 1):
        if framed[start : start + len(plain)] == plain:
            return framed[:start], framed[start + len(plain) :]
    return None


def _prefix(role: str, framed: list[int], plain: list[int], eos: int | None) -> list[int]:
    """The ids before the text; a suffix other than the eos alone is reported and left out."""
    parts = _split(framed, plain)
    if parts is None:
        log.warning("the model's tokenizer frames a %s in a way seqlab cannot read; it is "
                    "read as text <eos>", role)  # fmt: skip
        return []
    prefix, suffix = parts
    if suffix not in ([eos], []):
        log.warning("the model's tokenizer ends a %s with ids %s; seqlab ends it with <eos> "
                    "alone", role, suffix)  # fmt: skip
    return prefix


def role_prefixes(folder: Path, eos: int | None) -> dict[str, list[int]]:
    """The model's ids its tokenizer puts before a source (``src``) and a target (``tgt``).

    Read with `transformers` (``tokenizer(text)`` and ``tokenizer(text_target=text)``, as a
    fine-tuning script encodes them); without it, or for a folder it cannot load, none.
    """
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder))
        src = tok(PROBE)["input_ids"], tok(PROBE, add_special_tokens=False)["input_ids"]
        tgt = (tok(text_target=PROBE)["input_ids"],
               tok(text_target=PROBE, add_special_tokens=False)["input_ids"])  # fmt: skip
    except Exception as e:  # no transformers, or a tokenizer.json that only `tokenizers` reads
        log.info("no source/target prefixes read from %s (%s)", folder, type(e).__name__)
        return {"src": [], "tgt": []}
    return {"src": _prefix("source", *src, eos), "tgt": _prefix("target", *tgt, eos)}
