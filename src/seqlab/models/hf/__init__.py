"""Interop with Hugging Face `transformers` checkpoints. Pure PyTorch: tensors and plain config
dicts, so nothing here imports `transformers` (the commands that read or write its folders do)."""
