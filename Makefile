# The two commands of the README: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PGLITE := deploy/local/pglite
KUSTOMIZE_VERSION := v5.8.1
GO     ?= $(or $(shell command -v go 2>/dev/null),/usr/local/go/bin/go)
KUSTOMIZE := $(VENV)/.kustomize-$(KUSTOMIZE_VERSION)
SIMULATOR_HOT := $(addprefix simulators/,wire.py machine.py process.py simulation.py)
SIMULATOR_COMPILED := $(VENV)/.simulator-compiled
STREAMS_HOT := iiot/kpi.py iiot/oee.py iiot/wire/plain_sample.py iiot/wire/oee_json.py \
	streams/alarms.py streams/device_state.py
STREAMS_COMPILED := $(VENV)/.streams-compiled

.PHONY: install tools demo test lint unit stack-up stack-down clean

# Re-install only when the dependencies change: the ranges (pyproject.toml) or the pins
# (constraints.txt, so every machine, CI and the image get the same versions).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

## Refresh constraints.txt: the newest versions pyproject.toml allows, resolved by pip in a
## fresh venv of CPython 3.11 (the image's Python), then `make install` brings .venv to them.
.PHONY: lock
lock:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "make lock: needs CPython 3.11 (PYTHON=python3.11)")'
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp"; \
	"$$tmp/bin/pip" install --quiet --upgrade pip; \
	"$$tmp/bin/pip" install --quiet -e '.[dev]'; \
	{ echo "# Exact versions of every package of \`pip install -e '.[dev]'\`, for CPython 3.11 on Linux."; \
	  echo "# Used by make install, CI and the Dockerfile; make lock rewrites it (docs/dependencies.md)."; \
	  "$$tmp/bin/pip" freeze --exclude-editable; } > constraints.txt

install: $(VENV)/.installed $(SIMULATOR_COMPILED) $(STREAMS_COMPILED) $(PGLITE)/node_modules/.installed tools $(KUSTOMIZE)

# The simulator's per-sample modules compiled with mypyc (simulators/native.py): over a third
# fewer instructions per sample, the same stream. Without a C compiler it says so and the
# pure-Python modules run; compiled files older than their sources are never used.
$(SIMULATOR_COMPILED): $(VENV)/.installed $(SIMULATOR_HOT) iiot/native.py simulators/compile.py
	$(BIN)/python -m simulators.compile
	touch $@

# The same for the stream worker's per-sample modules (iiot/native.py): ~2x less CPU a sample.
$(STREAMS_COMPILED): $(VENV)/.installed $(STREAMS_HOT) iiot/native.py streams/compile.py
	$(BIN)/python -m streams.compile
	touch $@

# Command-line tools the tests run (apt, like the services): docker-compose for deploy/compose.
tools:
	deploy/local/stack.sh tools

# kustomize (Go module proxy) renders deploy/kubernetes in the tests; built once into the venv.
$(KUSTOMIZE): | $(VENV)/.installed
	GOBIN=$(abspath $(BIN)) GOTOOLCHAIN=local $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	touch $@

# The WASM TimescaleDB (npm) that tests the TimescaleDB path of the migrations.
$(PGLITE)/node_modules/.installed: $(PGLITE)/package-lock.json
	cd $(PGLITE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The main job: the whole pipeline for a few minutes, then its summary (`iiot demo`; it needs
## only the venv, `iiot stack up` installs the services;
## options through DEMO_ARGS, e.g. make demo DEMO_ARGS="--devices 100 --speed 30").
demo: $(VENV)/.installed $(SIMULATOR_COMPILED)
	$(BIN)/iiot demo $(DEMO_ARGS)

## Everything CI runs: install, start the services, lint, all tests.
test: install
	$(BIN)/iiot stack up
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory typecheck
	$(BIN)/pytest

## Types: mypy, strict on iiot/, the KPI code and the compiled simulator (pyproject.toml).
.PHONY: typecheck
typecheck: $(VENV)/.installed
	$(BIN)/mypy

## The fault matrix (tests/faults, ~25 min, not part of `make test`): outages, kills and a
## bad-input campaign, each compared with the run without the fault; then the figures
## (.faults/last-run.json) as docs/reliability.md's table (`python -m tests.faults.report --write`).
.PHONY: faults
faults: install
	$(BIN)/iiot stack up
	$(BIN)/pytest tests/faults; status=$$?; $(BIN)/python -m tests.faults.report; exit $$status

unit: install
	$(BIN)/pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

stack-down:
	$(BIN)/iiot stack down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
	rm -f simulators/*.so simulators/_compiled.json

## Stream worker throughput beside a consume+parse loop and Quix Streams (a venv of its own:
## quixstreams pins an older confluent-kafka than the pipeline uses, so constraints.txt,
## which pins the pipeline's, does not apply there: pip resolves this venv afresh).
.venv-bench/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -e '.[dev]' 'quixstreams>=3.20'
	touch $@

bench-streams: .venv-bench/.installed
	$(BIN)/iiot stack up
	.venv-bench/bin/python bench/stream_worker.py
