"""Packaged Hydra configs (the one home of every default)."""
