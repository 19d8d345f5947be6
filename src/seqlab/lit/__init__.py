"""The Lightning side: LightningModules that wrap seqlab's networks (language model, seq2seq,
prefix LM), the optimizer and schedules they own, and the plumbing a run's trainer needs
(building it, loggers, strategies, a profiler that costs nothing)."""
