"""Estimates behind seqlab-plan: cost ledgers per architecture, data and batch shapes, hardware.

Kept free of heavy imports so ``seqlab.config`` can import the settings schema.
"""
