# Two commands on a fresh machine: `make run` (the demo, embedded default) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV := .venv
PY := $(VENV)/bin/python
DAGSTER := $(VENV)/bin/dagster

export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export MERIDIAN_LANDING ?= $(CURDIR)/data/landing
export MERIDIAN_LAKE ?= $(CURDIR)/data/lake

DEMO_START ?= 2026-11-01
DEMO_END ?= 2026-11-10
VEHICLES ?= 200
PIPELINE := group:raw_ingestion

.PHONY: install run dev test bench manifest clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

run: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m meridian_assets.synthetic $(MERIDIAN_LANDING) $(DEMO_START) $(DEMO_END) --vehicles $(VEHICLES)
	$(DAGSTER) asset materialize -m meridian_assets.definitions \
	  --select '$(PIPELINE)' --partition-range $(DEMO_START)...$(DEMO_END)
	$(PY) -m meridian_assets.cli status $(DEMO_START) $(DEMO_END)

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

test: install
	$(PY) -m pytest -q meridian_assets_tests

clean:
	rm -rf data .dagster_home dbt_project/target
