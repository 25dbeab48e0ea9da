# supplynet: every target builds .venv from the repo's own files first (idempotent).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-slow test-all bench lint typecheck clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/supplynet demo $(DEMO_ARGS)

# everyday suite, under 10 minutes on 2 cores: everything but the `slow` marker (the 50,000-message
# crash test, the browser, schemathesis, benchmark --quick guards, whole-data-set runs)
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(TEST_ARGS)

# the `slow` tests alone; CI (.ci/run) runs `make test`, then this
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(TEST_ARGS)

# everything, `slow` included, in one run
test-all: $(STAMP)
	$(BIN)/python -m pytest -q $(TEST_ARGS)

bench: $(STAMP)
	@for f in bench/[!_]*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# mypy, configured in pyproject.toml ([tool.mypy]: strict on the core, an opt-out list elsewhere)
typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .supplynet build *.egg-info src/*.egg-info .mypy_cache
