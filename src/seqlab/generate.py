"""seqlab-generate: text from a checkpoint alone, for a prompt, a file, piped stdin or interactively.

Output: one line per hypothesis; ``score<TAB>text`` when ``scores=true`` or ``n_best > 1``
(then n_best lines per input, best first). In file and piped modes newlines, tabs and backslashes
inside a text are written as ``\\n``, ``\\t``, ``\\\\`` so each hypothesis stays on one line.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from seqlab.cli import end_startup, entry_point, quiet, user_errors
from seqlab.errors import SeqlabError
from seqlab.runs.model_card import license_notice


def main_job(cfg: DictConfig) -> None:
    # Imported here so that `seqlab-generate --help` never loads torch (seconds).
    import torch

    from seqlab.generation.console import batch_mode, interactive, write
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
