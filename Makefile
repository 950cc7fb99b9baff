# `make demo` and `make test` each set up first (Debian packages, npm, .venv); setup is idempotent.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test smoke bench clean

setup:
	@bash cluster/setup.sh

# A private local Ray cluster: the demo never waits on one someone else started on this machine.
demo: setup
	$(VENV)/bin/oorl train --config configs/demo-cpu.yaml --output-dir runs/demo placement.ray_address=local

smoke: setup
	$(VENV)/bin/oorl train --config configs/smoke-cpu.yaml --output-dir runs/smoke

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/bench_grpo_vs_trl.py

clean:
	rm -rf runs .pytest_cache
