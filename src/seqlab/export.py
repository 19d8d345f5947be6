"""seqlab-export: a trained seqlab GPT as a `transformers` GPT-2 folder (config.json,
model.safetensors, tokenizer files) that `AutoModelForCausalLM` / `AutoTokenizer.from_pretrained`
load without seqlab; a model=hf_causal_lm / hf_seq2seq run as its own `transformers` model (LoRA
merged in, or the adapter alone: `seqlab.runs.hf_export`)."""

from __future__ import annotations

import json
from pathlib import Path

import hydra
from omegaconf import DictConfig

from seqlab.cli import end_startup, entry_point, user_errors
from seqlab.errors import SeqlabError

# Where export is impossible, and what to do instead.
NO_EQUIVALENT = (
    "only seqlab's GPT (model=gpt) has an exact transformers architecture (GPT-2), besides "
    "model=hf_causal_lm / hf_seq2seq; seqlab's encoder–decoders and recurrent models stay seqlab "
    'checkpoints (README "Exporting models")'
)


def hf_tokenizer(tokenizer, model_max_length: int):
    """The run's tokenizer as a `PreTrainedTokenizerFast` with seqlab's special tokens named."""
    from transformers import PreTrainedTokenizerFast

    from seqlab.data.tokenizers import SPECIAL_TOKENS

    pad, bos, eos, unk, sep, mask = SPECIAL_TOKENS
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.hf, model_max_length=model_max_length, pad_token=pad,
        bos_token=bos, eos_token=eos, unk_token=unk, sep_token=sep, mask_token=mask,
    )  # fmt: skip


def export(cfg: DictConfig) -> Path:
    from seqlab.models.gpt import GPT
    from seqlab.models.hf import gpt2
    from seqlab.runs.checkpoints import load_checkpoint

    end_startup()
    try:
        from safetensors.torch import save_file
        from transformers import GPT2Config
    except ImportError:
        raise SeqlabError(
            "seqlab-export needs transformers and safetensors: pip install 'seqlab[hf]'"
        ) from None
    from seqlab.generation.text import load_model
    from seqlab.models.hf.finetune import FineTuning

    ckpt = load_checkpoint(cfg.ckpt_path)
    net, tokenizers, _ = load_model(ckpt, cfg.ckpt_path)
    hf = isinstance(net, FineTuning)
    if not isinstance(net, GPT) and not hf:
        raise SeqlabError(f"{cfg.ckpt_path} holds a {type(net).__name__}: {NO_EQUIVALENT}")
    out = Path(cfg.out).expanduser()
    if out.exists() and any(out.iterdir()) and not cfg.overwrite:
        raise SeqlabError(f"out={out} is not empty; choose a new folder or pass overwrite=true")
    out.mkdir(parents=True, exist_ok=True)
    if hf:
        from seqlab.runs.hf_export import export_hf

        what = export_hf(net, ckpt, str(cfg.ckpt_path), out, bool(cfg.adapter_only))
        print(f"exported {type(net).__name__} ({cfg.ckpt_path}) as {what}: {out}")
        return out
    [tokenizer] = tokenizers.values()  # a language model reads one vocabulary
    config = GPT2Config(**gpt2.gpt2_config(net, tokenizer.vocab_size), bos_token_id=tokenizer.bos_id,
                        eos_token_id=tokenizer.eos_id, pad_token_id=tokenizer.pad_id)  # fmt: skip
    config.save_pretrained(out)
    save_file(gpt2.to_gpt2_state(net), out / "model.safetensors", metadata={"format": "pt"})
    hf_tokenizer(tokenizer, net.block_size).save_pretrained(out)
    provenance = {"seqlab_checkpoint": str(cfg.ckpt_path), "run_id": ckpt["seqlab"].get("run_id"),
                  "tokenizer_kind": tokenizer.kind}  # fmt: skip
    (out / "seqlab.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    print(f"exported {type(net).__name__} ({cfg.ckpt_path}) as a transformers GPT-2 folder: {out}")
    return out


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
@user_errors
def _hydra_main(cfg: DictConfig) -> None:
    export(cfg)


main = entry_point(_hydra_main)

if __name__ == "__main__":
    main()
