"""Decoding strategies over the incremental-decoding interface."""
