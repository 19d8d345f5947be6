"""seqlab-generate: text from a checkpoint alone, for a prompt, a file, piped stdin or interactively.

Output: one line per hypothesis; ``score<TAB>text`` when ``scores=true`` or ``n_best > 1``
(then n_best lines per input, best first). In file and piped modes newlines, tabs and backslashes
inside a text are written as ``\\n``, ``\\t``, ``\\\\`` so each hypothesis stays on one line.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import hydra
from omegaconf import DictConfig, OmegaConf

from seqlab.cli import end_startup, entry_point, quiet, user_errors
from seqlab.errors import SeqlabError
from seqlab.runs.model_card import license_notice

if TYPE_CHECKING:
    from seqlab.generation.text import Hypothesis, TextGenerator


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def write(out: TextIO, hyps: list[Hypothesis], with_scores: bool, one_line: bool) -> None:
    for hyp in hyps:
        text = escape(hyp.text) if one_line else hyp.text
        out.write(f"{hyp.score:.4f}\t{text}\n" if with_scores else f"{text}\n")
    out.flush()


def read_lines(path: str) -> list[str]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise SeqlabError(
            f"input_file not found: {file}; pass input_file=<text file, one input a line>"
        )
    try:
        return file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise SeqlabError(f"input_file {file} is not UTF-8 text (byte {e.start})") from None


def chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line.rstrip("\n"))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def line_editing(history_file: str | None) -> Callable[[], None]:
    """Line editing and history for ``input()`` (readline), history read from ``history_file``;
    returns the function that writes it back."""
    try:
        import readline
    except ImportError:  # a Python built without readline: plain input() still works
        return lambda: None
    if not history_file:
        return lambda: None
    path = Path(history_file).expanduser()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)

    return save


def interactive(generator: TextGenerator, with_scores: bool, history_file: str | None) -> None:
    print("seqlab-generate: type an input and press Enter; Ctrl-D ends.", file=sys.stderr)
    save_history = line_editing(history_file)
    try:
        while True:
            try:
                line = input("> ")
            except (EOFError, KeyboardInterrupt):
                print(file=sys.stderr)
                return
            if line.strip():
                try:
                    write(sys.stdout, generator([line])[0], with_scores, one_line=False)
                except SeqlabError as e:  # a bad input should not end the session
                    print(f"seqlab: error: {e}", file=sys.stderr)
    finally:
        save_history()


def batch_mode(generator: TextGenerator, cfg: DictConfig, with_scores: bool) -> None:
    """input_file (decoded as one lot, so length bucketing sees every line) or piped stdin."""
    if cfg.input_file is not None:
        batches: Iterable[list[str]] = [read_lines(cfg.input_file)]
    else:
        batches = chunks(sys.stdin, cfg.batch_size)
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if cfg.output_file:
            path = Path(cfg.output_file).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(path.open("w", encoding="utf-8"))
        done = 0
        for batch in batches:
            for hyps in generator(batch, first=done):
                write(out, hyps, with_scores, one_line=True)
            done += len(batch)
    if cfg.output_file:
        print(f"{done} inputs → {cfg.output_file}", file=sys.stderr)


def main_job(cfg: DictConfig) -> None:
    # Imported here so that `seqlab-generate --help` never loads torch (seconds).
    import torch

    from seqlab.generation.options import DecodingOptions
    from seqlab.generation.text import TextGenerator, load_model
    from seqlab.runs.checkpoints import load_checkpoint

    end_startup()
    quiet(cfg.extras.ignore_warnings)
    options = DecodingOptions.from_config(OmegaConf.to_container(cfg.decoding, resolve=True))
    if cfg.prompt is not None and cfg.input_file is not None:
        raise SeqlabError("pass either prompt=... or input_file=..., not both")
    if cfg.output_file is not None and cfg.input_file is None:
        raise SeqlabError("output_file needs input_file=<text file>; a prompt prints to stdout")
    try:
        device = torch.device(cfg.device)
    except RuntimeError:
        raise SeqlabError(
            f"config key 'device': {cfg.device!r} is not valid; use cpu, cuda or mps"
        ) from None
    ckpt = load_checkpoint(cfg.ckpt_path)
    if notice := license_notice(ckpt["seqlab"]):
        print(notice, file=sys.stderr)
    net, tokenizers, config = load_model(ckpt, cfg.ckpt_path)
    cleaning = (config.get("data") or {}).get("cleaning") or {}
    generator = TextGenerator(
        net.to(device), tokenizers, cleaning, options, cfg.batch_size, cfg.prompt_overflow
    )
    with_scores = bool(cfg.scores) or options.n_best > 1
    if cfg.prompt is not None:
        write(sys.stdout, generator([str(cfg.prompt)])[0], with_scores, one_line=False)
    elif cfg.input_file is not None or not sys.stdin.isatty():
        batch_mode(generator, cfg, with_scores)
    else:
        interactive(generator, with_scores, cfg.history_file)


@hydra.main(version_base="1.3", config_path="conf", config_name="generate")
@user_errors
def _hydra_main(cfg: DictConfig) -> None:
    main_job(cfg)


main = entry_point(_hydra_main)

if __name__ == "__main__":
    main()
