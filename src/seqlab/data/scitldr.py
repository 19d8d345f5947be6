"""SciTLDR (Cachola et al., 2020): a paper's abstract → a one-sentence TL;DR.

Each JSON Lines record holds the abstract as a list of sentences (`source`) and one or more TL;DRs
(`target`: the author's, then peer reviewers'). Training files have one TL;DR per paper; dev and test
have up to four, all of which are references for evaluation.
"""

from __future__ import annotations

from pathlib import Path

from seqlab.data.readers import read_jsonl
from seqlab.errors import SeqlabError

TARGETS = ("first", "all")


def _texts(path: str | Path, lineno: int, record: dict, field: str) -> list[str]:
    value = record.get(field)
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        found = "missing" if field not in record else f"a {type(value).__name__}"
        raise SeqlabError(
            f"{path}:{lineno}: field {field!r} is {found}; SciTLDR records need {field!r} as a "
            "non-empty list of strings"
        )
    return value


def read_scitldr_records(
    path: str | Path, errors: str = "strict"
) -> list[tuple[list[str], list[str]]]:
    """``(abstract sentences, tldrs)`` per record, validated (extractive baselines need the
    sentences; ``read_scitldr`` joins them)."""
    return [
        (_texts(path, lineno, record, "source"), _texts(path, lineno, record, "target"))
        for lineno, record in enumerate(read_jsonl(path, errors), start=1)
    ]


def read_scitldr(
    path: str | Path, targets: str = "first", errors: str = "strict"
) -> list[tuple[str, str, dict]]:
    """Read SciTLDR records into `(abstract, tldr, {"refs": all tldrs})` examples.

    Args:
        path: A SciTLDR `.jsonl` file.
        targets: "first" for one example per paper whose target is its first TL;DR (the author's),
            or "all" for one example per TL;DR (more training pairs from multi-TL;DR papers).
        errors: "strict" or "replace", as for `read_lines`.

    Returns:
        Examples in file order; every example's `extra["refs"]` lists all TL;DRs of its paper.

    Raises:
        SeqlabError: unreadable file, invalid JSON, a record without a `source` or `target` list
            (names the line), or an unknown `targets`.
    """
    if targets not in TARGETS:
        raise SeqlabError(f"data.targets={targets!r} is not valid; choose one of first, all")
    examples: list[tuple[str, str, dict]] = []
    for sentences, tldrs in read_scitldr_records(path, errors):
        source = " ".join(s.strip() for s in sentences)
        chosen = tldrs[:1] if targets == "first" else tldrs
        examples.extend((source, tldr, {"refs": list(tldrs)}) for tldr in chosen)
    return examples
