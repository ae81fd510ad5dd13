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

DEMO_START ?= 2026-11-01
DEMO_END ?= 2026-11-10
VEHICLES ?= 200
DEV_PORT ?= 3000
MANIFEST := dbt_project/target/manifest.json

.PHONY: install run dev test bench manifest clean

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

# Day by day, as the nightly schedule runs it, from the first day on (history starts empty):
# each day's checks are recorded per partition (the UI's checks tab), and each day's model is
# gated against the one deployed before it.
run: install $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m meridian_assets.synthetic $(MERIDIAN_LANDING) $(DEMO_START) $(DEMO_END) --vehicles $(VEHICLES)
	@echo "materializing every asset day by day (logs: $(DAGSTER_HOME)/run-DAY.log)"
	for day in $$($(PY) -m meridian_assets.cli days $(DEMO_START) $(DEMO_END)); do \
	  $(VENV)/bin/dg launch --job daily_pipeline --partition $$day \
	    > $(DAGSTER_HOME)/run-$$day.log 2>&1 \
	    && echo "  $$day: ok" || echo "  $$day: stopped by a failed check or step (see the summary; log $(DAGSTER_HOME)/run-$$day.log)"; \
	done
	$(PY) -m meridian_assets.cli status $(DEMO_START) $(DEMO_END) --require-deployed

# Webserver and daemon: sensors, automation and the schedule run; alerts link runs on this port.
dev: install $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	MERIDIAN_UI_URL=$${MERIDIAN_UI_URL:-http://127.0.0.1:$(DEV_PORT)} \
	  $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(DEV_PORT)

# pytest parses the dbt project once (conftest.py); dg check defs then loads the location with it.
test: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pytest -q meridian_assets_tests
	$(VENV)/bin/dg check defs

# docs/BENCHMARKS.md: the feature groups at 1,000, 10,000 and 40,000 vehicles (~5-6 min); raw GPS
# ingestion of a 40,000-vehicle day, streamed against a whole-day pandas reference, and its
# contract check, pandera over pandas against the contract compiled to SQL; the whole
# pipeline through the Dagster CLI at 40,000 vehicles with seven earlier days (one run, then two
# at once; ~45 min, ~20 GB of temporary disk) and at the demo's 200 (fixed costs per step); then
# the drift check's false alarms on 30 good days at 60, 200 and 1,000 vehicles (docs/CHECKS.md).
bench: install $(MANIFEST)
	$(PY) benchmarks/feature_groups.py
	$(PY) benchmarks/ingestion_memory.py --vehicles 40000
	$(PY) benchmarks/contract_engines.py --vehicles 40000
	$(PY) benchmarks/scale.py --vehicles 40000 --concurrent-days 2
	$(PY) benchmarks/scale.py --vehicles 200 --concurrent-days 0
	$(PY) benchmarks/drift_false_alarms.py

clean:
	rm -rf data .dagster_home dbt_project/target
