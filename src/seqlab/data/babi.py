"""bAbI question answering (Weston et al., 2015): one example per question, with its story so far.

A bAbI file is a sequence of stories. Every line starts with its id within the story, and the ids
start again at 1 when a new story begins. Statements are `id text`; questions are
`id question<TAB>answer<TAB>supporting ids`. A question becomes the source "story so far + question",
so the model sees exactly the facts that were known when the question was asked.
"""

from __future__ import annotations

from pathlib import Path

from seqlab.data.readers import read_lines
from seqlab.errors import SeqlabError


def read_babi(
    path: str | Path, group: str | None = None, errors: str = "strict"
) -> list[tuple[str, str, dict]]:
    """Read a bAbI task file into `(story + question, answer, extra)` examples.

    The source is the story's statements since it began, in order, then the question, joined by
    single spaces; earlier questions of the story are not part of it. Answers are kept as written
    (lists such as `apple,football` stay one string).

    Args:
        path: A `qa{N}_<name>_{train,test}.txt` file.
        group: Label stored as `extra["group"]` on every example (e.g. "qa1"), so metrics can be
            reported per task; None for no label.
        errors: "strict" or "replace", as for `read_lines`.

    Returns:
        One `(source, answer, extra)` triple per question line, in file order.

    Raises:
        SeqlabError: unreadable file, a line that does not start with an id, ids that do not count
            up within a story, a question line without an answer, or a file without questions
            (each names the line).
    """
    lines = read_lines(path, errors)
    while lines and not lines[-1].strip():
        lines.pop()
    extra = {} if group is None else {"group": group}
    story: list[str] = []
    examples: list[tuple[str, str, dict]] = []
    prev = 0
    for lineno, line in enumerate(lines, start=1):
        head, _, text = line.partition(" ")
        if not head.isdecimal() or len(head) > 9 or not text.strip():
            raise SeqlabError(
                f"{path}:{lineno}: expected '<id> <sentence>', found {line[:40]!r}; "
                "every bAbI line starts with its number in the story and a space"
            )
        number = int(head)
        if number == 1:
            story = []
        elif number != prev + 1:
            raise SeqlabError(
                f"{path}:{lineno}: line id {number} does not follow {prev}; ids count up from 1 "
                "within a story (a new story starts again at 1)"
            )
        prev = number
        if "\t" not in text:
            story.append(text.strip())
            continue
        question, answer = (part.strip() for part in text.split("\t")[:2])
        if not question or not answer:
            raise SeqlabError(
                f"{path}:{lineno}: question line needs '<question><TAB><answer>'; "
                "fill in the question and its answer"
            )
        examples.append((" ".join([*story, question]), answer, dict(extra)))
    if not examples:
        raise SeqlabError(
            f"{path}: no question lines ('<id> <question><TAB><answer>'); is this a bAbI task file?"
        )
    return examples
