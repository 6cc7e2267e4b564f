# fastport: `make run` starts the broker, `make test` runs every test.
# Both create the virtual environment and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test proto bench clean

$(STAMP): pyproject.toml protos/python/pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e protos/python -e clients/python -e '.[dev,bench]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/fastport serve

test: $(STAMP)
	$(BIN)/python -m pytest

# The standard benchmark matrix (about 10 minutes): writes bench/results.md and
# bench/results.json. BENCH_ARGS passes options, e.g. BENCH_ARGS="--runs 5 --duration 5"
# or BENCH_ARGS="--only a,d"; see bench/README.md.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m fastport.bench.matrix --out bench $(BENCH_ARGS)

proto: $(STAMP)
	$(BIN)/python tools/genproto.py

clean:
	rm -rf $(VENV) build dist *.egg-info
