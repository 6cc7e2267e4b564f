# fastport: `make run` starts the broker, `make test` runs every test.
# Both create the virtual environment and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PYPROJECTS := pyproject.toml protos/python/pyproject.toml clients/python/pyproject.toml

.PHONY: install run test proto docs bench profile clean

# What the running server needs, and nothing else.
$(RUN_STAMP): $(PYPROJECTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e protos/python -e clients/python -e .
	touch $@

# Tests and benchmarks on top.
$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(DEV_STAMP)

# Settings pass through ARGS, e.g. make run ARGS="--http-port 8080 --log-format json"
# (or as FASTPORT_* environment variables; `fastport serve --help` lists them).
ARGS ?=
run: $(RUN_STAMP)
	$(BIN)/fastport serve $(ARGS)

# Type checks first ([tool.mypy] in pyproject.toml: strict on fastport/core), then every test.
test: $(DEV_STAMP)
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The standard benchmark matrix (about 10 minutes): writes bench/results.md and
# bench/results.json. BENCH_ARGS passes options, e.g. BENCH_ARGS="--runs 5 --duration 5"
# or BENCH_ARGS="--only a,d"; see bench/README.md.
BENCH_ARGS ?=
bench: $(DEV_STAMP)
	$(BIN)/python -m fastport.bench.matrix --out bench $(BENCH_ARGS)

# Where a server's time goes: py-spy samples fastport under shape (a) on each door and
# writes bench/profiles/<door>-a.txt (shares per layer and function, and µs per acked
# message) and .collapsed (raw stacks); PROFILE_ARGS passes options, e.g.
# PROFILE_ARGS="--subs 10" or "--seconds 15" (python -m fastport.bench.profile --help).
PROFILE_ARGS ?=
profile: $(DEV_STAMP)
	$(BIN)/python -m fastport.bench.profile --door ws --out bench/profiles $(PROFILE_ARGS)
	$(BIN)/python -m fastport.bench.profile --door grpc --out bench/profiles $(PROFILE_ARGS)

# Everything generated from protos/: the Python package's code, the Node.js package's
# copy of the contract and its TypeScript types, and docs/grpc-api.md (a test fails
# when any of them is stale).
NODE_CLIENT_DEPS := clients/node/node_modules/.package-lock.json
$(NODE_CLIENT_DEPS): clients/node/package-lock.json
	cd clients/node && npm ci --no-audit --no-fund --loglevel=error

proto: $(DEV_STAMP) $(NODE_CLIENT_DEPS)
	$(BIN)/python tools/genproto.py
	cd clients/node && npm run --silent generate
	$(BIN)/python -m tools.genapidoc

# docs/grpc-api.md from the comments in protos/ (a test fails when it is stale).
docs: $(DEV_STAMP)
	$(BIN)/python -m tools.genapidoc

clean:
	rm -rf $(VENV) build dist *.egg-info
