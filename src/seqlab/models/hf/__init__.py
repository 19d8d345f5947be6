"""Interop with Hugging Face `transformers`. `gpt2` maps seqlab's GPT to GPT-2 as tensors and
plain config dicts (no `transformers` import); `causal_lm` wraps any `AutoModelForCausalLM` and
imports `transformers` only when such a model is built."""
