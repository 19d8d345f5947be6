# seqlab developer commands. `make setup` once, then `make test` / `make train`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: setup train sweep report bench test test-all lint format clean

setup:  ## create .venv; torch first (CPU wheel 2.13.0), then seqlab with dev extras
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'

train:  ## the default experiment: GRU + attention on SCAN (generated; no data files needed)
	$(BIN)/seqlab-train experiment=scan_gru_attention $(ARGS)

sweep:  ## a multirun, e.g. make sweep ARGS="model=gru_seq2seq,transformer_seq2seq size=tiny,small"
	$(BIN)/seqlab-train -m $(ARGS)

report:  ## rebuild summary.csv/md + report.html, e.g. make report ARGS=outputs/sweeps/<stamp>
	$(BIN)/seqlab-report $(or $(ARGS),outputs)

bench:  ## every hot-path benchmark, each printing ratios from one run (QUICK=1: smoke test; NANOGPT=<checkout>: vs nanoGPT, 2000 iterations)
	$(BIN)/python experiments/benchmarks/data_pipeline.py $(if $(QUICK),--quick)
	$(BIN)/python experiments/benchmarks/lm_training.py $(if $(QUICK),--quick) $(if $(NANOGPT),--nanogpt $(NANOGPT) --full)
	$(BIN)/python experiments/benchmarks/seq2seq_training.py $(if $(QUICK),--quick)
	$(BIN)/python experiments/benchmarks/host_memory.py $(if $(QUICK),--quick)
	$(BIN)/python experiments/benchmarks/dropout.py $(if $(QUICK),--quick)
	$(BIN)/python experiments/benchmarks/loop_overhead.py $(if $(QUICK),--quick)
	$(BIN)/python experiments/benchmarks/startup.py $(if $(QUICK),--quick)
	$(BIN)/python experiments/benchmarks/generation.py $(if $(QUICK),--quick)
	$(BIN)/python experiments/benchmarks/gpt2_interop.py $(if $(QUICK),--quick)
	$(BIN)/python experiments/benchmarks/hf_generation.py $(if $(QUICK),--quick)

test:  ## the fast test suite, one worker per core (pytest-xdist)
	$(BIN)/pytest -q -n auto $(ARGS)

test-all:  ## every test, slow multi-process ones included
	$(BIN)/pytest -q -m "" $(ARGS)

lint:
	$(BIN)/ruff check src tests experiments
	$(BIN)/ruff format --check src tests experiments

format:
	$(BIN)/ruff format src tests experiments
	$(BIN)/ruff check --fix src tests experiments

clean:
	rm -rf outputs multirun .pytest_cache .ruff_cache build dist src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
