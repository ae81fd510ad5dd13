# Two commands on a fresh machine: `make run` (the demo, embedded default) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV := .venv
PY := $(VENV)/bin/python
DAGSTER := $(VENV)/bin/dagster

# The venv's tools (dbt, spark-submit) first, whether or not it is activated.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export MERIDIAN_LANDING ?= $(CURDIR)/data/landing
export MERIDIAN_LAKE ?= $(CURDIR)/data/lake
# The synthetic vendor's answers (each stop's noise-free duration), outside the landing zone.
TRUTH ?= $(CURDIR)/data/truth

# The ten days up to yesterday (UTC): the demo is as fresh as a night's run leaves it, so the
# freshness checks pass under `make dev` and the nightly schedule goes on from there.
DEMO_START ?= $(shell date -u -d '10 days ago' +%F)
DEMO_END ?= $(shell date -u -d yesterday +%F)
VEHICLES ?= 200
DEV_PORT ?= 3000
# The UI listens on loopback; another interface only when asked (make dev DEV_HOST=0.0.0.0).
DEV_HOST ?= 127.0.0.1
MANIFEST := dbt_project/target/manifest.json

.PHONY: install run dev screenshots test bench fuzz model-bench manifest mutation clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

manifest: $(MANIFEST)

$(MANIFEST): $(VENV)/.installed dbt_project/dbt_project.yml $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f)
	$(VENV)/bin/dagster-dbt project prepare-and-package --file meridian_assets/dbt_project.py

# From the first day on (history starts empty): the ten days' data in one range run, as the UI's
# backfill of data_backfill builds them (each check recorded on its own day, the UI's checks tab),
# then each day's model in order, gated against the one deployed before it. Each run is launched
# as the UI launches one (in its own process, through the code location), so the UI's Overview,
# timeline and jobs show them.
run: install $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m meridian_assets.synthetic $(MERIDIAN_LANDING) $(DEMO_START) $(DEMO_END) --vehicles $(VEHICLES) \
	  --truth $(TRUTH)
	@echo "the days' data in one run, then each day's model (runs' output: $(DAGSTER_HOME)/runs.log)"
	$(PY) -m meridian_assets.cli launch $(DEMO_START) $(DEMO_END) --backfill data_backfill --jobs daily_model \
	  --log $(DAGSTER_HOME)/runs.log || echo "some runs did not succeed: the summary below and the UI (make dev) say where"
	$(PY) -m meridian_assets.cli status $(DEMO_START) $(DEMO_END) --require-deployed
	$(PY) -m meridian_assets.cli evaluate --truth $(TRUTH)

# Webserver and daemon: sensors, automation and the schedule run; alerts link runs on this port.
dev: install $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	MERIDIAN_UI_URL=$${MERIDIAN_UI_URL:-http://$(DEV_HOST):$(DEV_PORT)} \
	  $(VENV)/bin/dagster dev -w workspace.yaml -h $(DEV_HOST) -p $(DEV_PORT)

# README's pictures (docs/img/), taken in Chromium from the UI over the instance `make run` leaves.
screenshots: install $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	@test -d $(DAGSTER_HOME)/history || { echo "no runs in $(DAGSTER_HOME): run 'make run' first"; exit 1; }
	$(PY) scripts/screenshots.py docs/img

# pytest parses the dbt project once (conftest.py), then runs the tests on both cores (pytest-xdist:
# each worker has one Spark session; the story's eight good days are built once, for both; the
# order and worksteal keep both workers busy to the end, conftest.py says how). Each
# service a test needs (PostgreSQL, a Spark cluster, moto's S3 server, the daemon, the webserver,
# Chromium) is started by its test on a port of its own and stopped at the end.
TEST_WORKERS ?= 2
test: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=15 meridian_assets_tests

# docs/BENCHMARKS.md: what everyone waits for, from a fresh clone (make run, the location's
# imports, make test: ~25 min, first, on a machine with nothing else running); the feature groups at 1,000, 10,000 and 40,000 vehicles (~5-6 min); raw GPS
# ingestion of a 40,000-vehicle day, streamed against a whole-day pandas reference, and its
# contract check, pandera over pandas against the contract compiled to SQL; the whole
# pipeline through the Dagster CLI at 40,000 vehicles with seven earlier days (one run, then two
# at once; ~45 min, ~20 GB of temporary disk) and at the demo's 200 (fixed costs per step); then
# the drift check's false alarms on 30 good days at 60, 200 and 1,000 vehicles (docs/CHECKS.md).
# Then a daemon backfill of 90 days of 1,000 vehicles as the UI submits it (~15 min). Last, 500
# fuzzed landing drops (make fuzz, ~1 min). The model against the oracle at two vendor noise levels
# is its own target: make model-bench (docs/MODEL.md).
bench: install $(MANIFEST)
	$(PY) benchmarks/fixed_costs.py
	$(PY) benchmarks/feature_groups.py
	$(PY) benchmarks/ingestion_memory.py --vehicles 40000
	$(PY) benchmarks/contract_engines.py --vehicles 40000
	$(PY) benchmarks/scale.py --vehicles 40000 --concurrent-days 2
	$(PY) benchmarks/scale.py --vehicles 200 --concurrent-days 0
	$(PY) benchmarks/drift_false_alarms.py
	$(PY) benchmarks/daemon_backfill.py --days 90 --vehicles 1000
	$(MAKE) --no-print-directory fuzz

# docs/RELIABILITY.md, "Fuzzed drops": FUZZ_DROPS generated landing drops over the five sources, each
# ingested into a lake holding a good day, on one core; prints how many landed and how many failed
# with a DropError naming the file. FUZZ_SEED picks the drops (the same seed, the same drops).
FUZZ_DROPS ?= 500
FUZZ_SEED ?= 32
fuzz: install
	MERIDIAN_FUZZ_DROPS=$(FUZZ_DROPS) $(PY) -m pytest -q -s --hypothesis-seed=$(FUZZ_SEED) \
	  meridian_assets_tests/ingestion/test_fuzzed_drops.py

# Mutation testing of the decision code (docs/RELIABILITY.md, issue 32): mutmut mutates the guard, the
# check rules, the gate's verdict and deploy decision, the automation conditions and transient(),
# and runs each mutant against the fast tests that call it (pyproject.toml [tool.mutmut]), one at a
# time on one core; from scratch each time. Prints killed/total per module; fails below 85% in any.
mutation: install
	rm -rf mutants
	$(PY) scripts/mutation.py

# docs/MODEL.md: 10 days of 300 vehicles at vendor noise 1.0 and 0.25, built by the pipeline, then each day's
# candidate, gate and deployment replayed in process: model/oracle and model/dispatcher per holdout day (~15 min).
model-bench: install $(MANIFEST)
	$(PY) benchmarks/model_bench.py

clean:
	rm -rf data .dagster_home dbt_project/target
