# dfd: every target creates .venv when missing and reinstalls only when pyproject.toml changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
PYTEST_ARGS ?=

export NO_ALBUMENTATIONS_UPDATE := 1
export PYTHONUNBUFFERED := 1

.PHONY: demo test test-fast bench lint install clean-demo

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[dev,smote]'
	@touch $(STAMP)

install: $(STAMP)

## demo: train Meso4 on the embedded synthetic crops, select on val AUC, test and evaluate the best checkpoint
demo: $(STAMP)
	rm -rf outputs/demo
	HF_HUB_OFFLINE=1 $(PY) -m dfd.train experiment=mesonet_synthetic hydra.run.dir=outputs/demo
	HF_HUB_OFFLINE=1 $(PY) -m dfd.eval ckpt_path=outputs/demo/checkpoints/best.ckpt split=test

## test: the whole suite, slow tests included (tests never reach a model hub)
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

## test-fast: skip the tests marked slow
test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

## bench: every benchmarks/bench_*.py; each prints a ratio against its named baseline
bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; HF_HUB_OFFLINE=1 $(PY) $$b; done

lint: $(STAMP)
	$(PY) -m ruff check dfd tests benchmarks
	$(PY) -m ruff format --check dfd tests benchmarks
