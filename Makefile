# The two commands of the README: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KHARDEN := $(BIN)/kharden

.PHONY: demo test lint unit docs golden bench bench-netpol bench-paths difftest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py src/kharden/_yamlc.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,helm]'
	@touch $@

## demo: install kharden and scan the bundled insecure example app and control-plane node
demo: $(VENV)/.installed
	@echo "\$$ kharden scan examples/insecure/ --node-root examples/insecure-node/"
	@$(KHARDEN) scan examples/insecure/ --node-root examples/insecure-node/ || [ $$? -eq 1 ]
	@echo
	@echo "\$$ kharden scan examples/hardened/   # the same app, hardened"
	@$(KHARDEN) scan examples/hardened/

## test: lint, type-check and run the test suite
test: lint unit

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest

## docs: regenerate docs/rules.md and the rendered catalog (src/kharden/catalog.json) from the rule registry, docs/json.md and the JSON report's schema
docs: $(VENV)/.installed
	$(BIN)/python -m kharden._catalog
	$(KHARDEN) rules --format md > docs/rules.md
	$(KHARDEN) schema --format md > docs/json.md
	$(KHARDEN) schema > docs/report.schema.json

## golden: regenerate the golden reports (tests/report/golden/, tests/data/same-findings.txt; review `git diff`)
golden: $(VENV)/.installed
	KHARDEN_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/report/test_golden.py tests/test_same_findings.py

## bench: compare kharden with checkov (installs checkov in its own venv; slow)
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

## bench-netpol: time the NetworkPolicy engine against network-config-analyzer (installs it; slow: ~15 min)
bench-netpol: $(VENV)/.installed
	$(BIN)/python bench/netpol.py

## bench-paths: time kharden paths on the standard 10,000-pod snapshot extended with RBAC (writes bench/data)
bench-paths: $(VENV)/.installed
	$(BIN)/python bench/paths.py

## difftest: compare the NetworkPolicy engine with network-config-analyzer on 200 random clusters (slow)
difftest: $(VENV)/.installed
	$(BIN)/python bench/difftest.py --clusters 200

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build src/*.egg-info
