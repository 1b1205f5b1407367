# Two entry points for a fresh machine: `make run` (chat UI over seeds/) and `make test`.
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install install-test run test eval bench

install:
	scripts/setup.sh

install-test:
	scripts/setup.sh --test

run: install
	$(VENV)/bin/rag serve --host $(HOST) --port $(PORT)

test: install-test
	$(VENV)/bin/python -m pytest

# The answer-quality gate: exits 1 when a metric falls below eval/thresholds.toml.
eval: install
	$(VENV)/bin/rag eval --out eval/reports/latest

bench: install
	$(VENV)/bin/python benchmarks/bench_pipeline.py
