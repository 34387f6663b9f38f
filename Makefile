# lookwright — every target installs what it needs into .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lookml demo test check lint typecheck bench bench-warehouse mutate clean

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

DEMO_ARGS ?=
demo: $(STAMP)  ## synthetic data -> DuckDB warehouse -> rollups, cost attribution, checks, summary
	$(BIN)/lookwright demo $(DEMO_ARGS)
	$(BIN)/lookwright report --warehouse duckdb:build/demo/warehouse.duckdb --output build/demo/report.html

# The BigQuery API emulator pins an older sqlglot, so it lives in a venv of its own.
EMULATOR_STAMP := build/bqemulator-venv/.installed
$(EMULATOR_STAMP): tests/bq_emulator.py
	$(BIN)/python tests/bq_emulator.py install
	touch $(EMULATOR_STAMP)

# A real Airflow (to import the generated DAG file) pins much of what lookwright uses: its own venv too,
# every package pinned in tests/airflow-requirements.txt (about a minute to install, cached under build/).
AIRFLOW_STAMP := build/airflow-venv/.installed
$(AIRFLOW_STAMP): tests/airflow-requirements.txt tests/airflow_env.py
	$(BIN)/python tests/airflow_env.py install

test: $(STAMP) $(EMULATOR_STAMP) $(AIRFLOW_STAMP)  ## the whole test suite (incl. BigQuery SQL on a local emulator, DAGs in Airflow)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -q chromium >/dev/null 2>&1 \
	       || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } \
	  || echo "chromium not installed (Debian package chromium): the report browser test is skipped"
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

bench: $(STAMP)  ## generator speed on 2,000 synthetic views (seconds)
	$(BIN)/python bench/generate.py 2000

bench-warehouse: $(STAMP)  ## dashboards on rollups vs raw, incremental vs full build, build memory (10M spans; ~15 min first run)
	$(BIN)/python bench/warehouse.py

# Mutation testing (mutmut, configured in pyproject.toml) of the functions whose promises matter most:
# the deploy's Looker checks, secret scrubbing, timeouts and retries, atomic writes and the manifest, the
# incremental windows, the aggregate matcher. Long (about an hour on 2 shared cores); MUTANTS narrows it.
MUTANTS ?= lookwright.output.writer.* \
	lookwright.looker.client.x?LookerClient?scrub* lookwright.looker.client.x?LookerClient?call* \
	lookwright.looker.client.x?LookerClient?add_secret* lookwright.looker.client.x__text_message* \
	lookwright.looker.client.x?RetryingTransport?_send* lookwright.looker.client.x?RetryingTransport?request* \
	lookwright.looker.deploy.x_check_queries* lookwright.looker.deploy.x_aggregate_choices* \
	lookwright.looker.deploy.x_check_lookml* lookwright.looker.deploy.x_check_content* \
	lookwright.looker.deploy.x__content_errors* lookwright.looker.deploy.x_ensure_branch_unmoved* \
	lookwright.warehouse.build.x_late_window* lookwright.warehouse.build.x__rollup_window* \
	lookwright.warehouse.build.x__transform_window* lookwright.warehouse.build.x__hour_floor* \
	lookwright.lookml.aggregates.*
mutate: $(STAMP)  ## mutation score per module (bench/README.md)
	$(BIN)/mutmut run $(foreach m,$(MUTANTS),"$(m)")
	$(BIN)/python bench/mutation_score.py

clean:
	rm -rf build mutants .pytest_cache .mypy_cache
