"""One run = one folder: its provenance, resume, sweeps, results, model card, predictions,
checkpoints and the redaction of secrets in all of them."""
