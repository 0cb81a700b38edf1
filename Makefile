# The entry points of the README: `make demo`, `make test`, `make bench` and `make stress`.
# Each builds a private virtual environment on first use, so a fresh machine
# needs only Python >= 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench stress clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "setright needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/quickstart/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Every hot path beside its floor, at the issue's sizes (several minutes; not part of
# `make test`). BENCH_SCALE=0.01 shrinks the sizes, BENCH_ONLY=plan,run picks rows.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache

# The reliability harness (stress/): minutes, real processes, not part of `make test`.
# STRESS_SCALE=0.1 scales every count; STRESS_SEED=N reproduces a run.
stress: $(STAMP)
	$(BIN)/python -m stress
