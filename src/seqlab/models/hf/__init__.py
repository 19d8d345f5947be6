"""Interop with Hugging Face `transformers`. `gpt2` maps seqlab's GPT to GPT-2 as tensors and
plain config dicts (no `transformers` import); `causal_lm` and `seq2seq` wrap any
`AutoModelForCausalLM` / `AutoModelForSeq2SeqLM` through the ids and logits of `vocab`, and import
`transformers` only when such a model is built."""
