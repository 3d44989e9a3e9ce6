# One command runs exactly what CI runs: `make test`. `make demo` imports the sample sheet.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench chaos fuzz samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	. sample_data/sandbox.env && $(BIN)/importer run sample_data/leads.csv \
		--vendor offergrid-leads --sandbox --out demo-out; \
	status=$$?; [ $$status -le 1 ] || exit $$status; \
	echo "demo finished (exit $$status: some sample rows are meant to fail); open demo-out/report.xlsx"

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check importer tests sample_data bench examples
	$(BIN)/ruff format --check importer tests sample_data bench examples

typecheck: $(STAMP)
	$(BIN)/mypy importer

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

# Every scenario module listed in bench/run.py, medians beside their baselines, into
# bench/results.md; not part of `make test` (about 10 minutes).
bench: $(STAMP)
	$(BIN)/python bench/run.py

# 100 kill -9 trials over the vendors' sandboxes; not part of `make test` (a few minutes).
chaos: $(STAMP)
	$(BIN)/python bench/chaos.py --trials 100

# The read and map fuzz tests with thousands of examples each; not part of `make test`.
fuzz: $(STAMP)
	IMPORTER_FUZZ=long $(BIN)/python -m pytest -q tests/test_fuzz.py

samples: $(STAMP)
	$(BIN)/python sample_data/make_samples.py

clean:
	rm -rf $(VENV) demo-out .mypy_cache .ruff_cache .pytest_cache .hypothesis
