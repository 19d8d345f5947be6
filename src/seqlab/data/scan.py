"""SCAN (Lake & Baroni, 2018) generated from its grammar, plus a reader for the official files.

Generating the task from the grammar means the simple split needs no download, and lets tests check
the official files against an independent implementation of the semantics.

Grammar::

    C -> S and S | S after S | S
    S -> V twice | V thrice | V
    V -> D[1] opposite D[2] | D[1] around D[2] | D | U
    D -> U left | U right | turn left | turn right
    U -> walk | look | run | jump
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqlab.data.readers import read_lines
from seqlab.errors import SeqlabError

_PRIMITIVES = {"walk": "I_WALK", "look": "I_LOOK", "run": "I_RUN", "jump": "I_JUMP"}
_TURNS = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}
_REPEATS = {"twice": 2, "thrice": 3}

Phrase = tuple[str, tuple[str, ...]]


def _verb_phrases() -> list[Phrase]:
    """Every V with its actions: plain U, then per direction `D`, `opposite` and `around` forms."""
    phrases: list[Phrase] = [(u, (a,)) for u, a in _PRIMITIVES.items()]
    # `turn` is the verb with no action of its own: only the turns are emitted.
    verbs: list[tuple[str, tuple[str, ...]]] = [(u, (a,)) for u, a in _PRIMITIVES.items()]
    verbs.append(("turn", ()))
    for direction, turn in _TURNS.items():
        for verb, act in verbs:
            phrases.append((f"{verb} {direction}", (turn, *act)))
    for direction, turn in _TURNS.items():
        for verb, act in verbs:
            phrases.append((f"{verb} opposite {direction}", (turn, turn, *act)))
            phrases.append((f"{verb} around {direction}", (turn, *act) * 4))
    return phrases


def _sentences() -> list[Phrase]:
    """Every S: each V on its own, then twice, then thrice."""
    verbs = _verb_phrases()
    sentences = list(verbs)
    for word, times in _REPEATS.items():
        sentences.extend((f"{cmd} {word}", act * times) for cmd, act in verbs)
    return sentences


def generate_scan() -> list[tuple[str, str]]:
    """Enumerate every SCAN command with its action sequence, in a fixed order.

    Returns:
        20,910 `(command, actions)` pairs, both as space-separated words: first the single
        sentences, then every `S1 and S2`, then every `S1 after S2` (which executes S2 first).
    """
    sentences = _sentences()
    joined = [(cmd, " ".join(act)) for cmd, act in sentences]
    pairs = list(joined)
    pairs.extend((f"{c1} and {c2}", f"{a1} {a2}") for c1, a1 in joined for c2, a2 in joined)
    pairs.extend((f"{c1} after {c2}", f"{a2} {a1}") for c1, a1 in joined for c2, a2 in joined)
    return pairs


def scan_split(
    pairs: list[tuple[str, str]], train_fraction: float = 0.8, seed: int = 0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split pairs at random into train and test, reproducibly (SCAN's "simple" split recipe).

    Args:
        pairs: Examples to split.
        train_fraction: Share of examples for training; the train size is
            `round(len(pairs) * train_fraction)` (16,728 of 20,910 at 0.8).
        seed: Seed for `numpy.random.Generator`; the same seed always gives the same split.

    Returns:
        `(train, test)`, disjoint and together holding every input pair once.

    Raises:
        SeqlabError: if `train_fraction` is outside [0, 1].
    """
    if not 0.0 <= train_fraction <= 1.0:
        raise SeqlabError(f"data.train_fraction: expected a value in [0, 1], got {train_fraction}")
    order = np.random.default_rng(seed).permutation(len(pairs))
    n_train = round(len(pairs) * train_fraction)
    train = [pairs[i] for i in order[:n_train]]
    test = [pairs[i] for i in order[n_train:]]
    return train, test


def read_scan_file(path: str | Path) -> list[tuple[str, str]]:
    """Parse an official SCAN file of `IN: <command> OUT: <actions>` lines.

    Args:
        path: A file such as `tasks_train_simple.txt`.

    Returns:
        `(command, actions)` pairs in file order, duplicates kept.

    Raises:
        SeqlabError: if a line does not have the expected form (names the line).
    """
    pairs: list[tuple[str, str]] = []
    for lineno, line in enumerate(read_lines(path), start=1):
        command, sep, actions = line.partition(" OUT: ")
        if not sep or not command.startswith("IN: ") or not command[4:] or not actions:
            raise SeqlabError(f"{path}:{lineno}: expected 'IN: <command> OUT: <actions>'")
        pairs.append((command[4:], actions))
    return pairs
