# crisisdesk: `make run` starts the whole embedded stack, `make test` runs every test.
# Both work on a fresh machine that reaches PyPI: they create .venv and install the project first.
# Extra arguments: make run ARGS='--ui-port 9233', make test ARGS='-k dev_stack -x'.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Newer than pyproject.toml means installed: a second `make run` starts at once.
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test bench tools clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs in about 10 s what pip takes 80 s over (parallel downloads, one resolver pass); pip is
# the fallback should uv itself not install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv && $(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]' \
		|| $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)  ## create .venv if missing and install the project with its test dependencies

run: $(STAMP)  ## Temporal + Web UI, PostgreSQL, worker and intake API in the foreground (Ctrl-C stops)
	CRISIS_STARTED_AT=$$(date +%s.%N) $(BIN)/crisis dev $(ARGS)

test:  ## the whole test suite (installs the project and the system tools it drives first, side by side)
	@$(MAKE) --no-print-directory -j2 install tools
	$(BIN)/python -m pytest $(ARGS)

bench: $(STAMP)  ## speed and memory as ratios against baselines measured in the same run
	$(BIN)/python -m benchmarks $(ARGS)

tools:  ## Debian packages the tests drive (chromium, docker-compose, a CJK font, pango for the PDF report), installed when missing
	@tools/install-system-packages.sh

clean:  ## remove caches and build output (keeps .venv and .data: `rm -rf .venv .data` for a fresh start)
	rm -rf build *.egg-info .pytest_cache .hypothesis tests/artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
