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
	$(BIN)/pip install --quiet -e protos/python -e clients/python -e '.[dev]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/fastport serve

test: $(STAMP)
	$(BIN)/python -m pytest

proto: $(STAMP)
	$(BIN)/python tools/genproto.py

clean:
	rm -rf $(VENV) build dist *.egg-info
