# lookwright — every target installs what it needs into .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lookml demo test check lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

lookml: $(STAMP)  ## regenerate generated_lookml/ and sql/ from semantic/, then validate the LookML
	$(BIN)/lookwright generate
	$(BIN)/lookwright validate

check: $(STAMP)  ## fail if committed output is stale
	$(BIN)/lookwright generate --check

DEMO := build/demo
SYNTH_ARGS ?= --seed 7 --days 14
demo: $(STAMP)  ## synthetic data -> DuckDB warehouse (-> rollups, costs, checks once `lookwright demo` lands)
	@if $(BIN)/lookwright demo --help >/dev/null 2>&1; then $(BIN)/lookwright demo; else \
	  $(BIN)/lookwright synth $(SYNTH_ARGS) $(DEMO)/sources && \
	  $(BIN)/lookwright load --source otlp $(DEMO)/sources/otlp/* && \
	  $(BIN)/lookwright load --source cur $(DEMO)/sources/cur/* && \
	  $(BIN)/lookwright load --source gcp-billing $(DEMO)/sources/gcp_billing/* && \
	  $(BIN)/lookwright load --source azure-cost $(DEMO)/sources/azure_cost/* && \
	  $(BIN)/lookwright load --source query-log $(DEMO)/sources/query_log/* && \
	  $(BIN)/lookwright generate && $(BIN)/lookwright validate; fi

test: $(STAMP)  ## the whole test suite
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python bench/generate.py 2000

clean:
	rm -rf build .pytest_cache .mypy_cache
