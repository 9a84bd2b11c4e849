# `make demo` and `make test` set up .venv on first use (Python 3.11+), then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@# PyTorch is only a reference for cross-checks; its tests skip where it cannot be installed.
	$(BIN)/pip install -q torch==2.13.0 || echo "torch 2.13.0 not installed: PyTorch cross-checks will skip"
	touch $@

demo: setup
	$(BIN)/cnnc compile resnet18

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/compile_speed.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
