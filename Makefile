# `make demo` and `make test` set everything up from scratch on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install data demo test soak lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU build (newer releases pull a multi-GB CUDA build)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[export,train,predict,scale,dev]'
	touch $(STAMP)

install: $(STAMP)

data: $(STAMP)
	$(BIN)/edgecv fetch-data

demo: data
	$(BIN)/edgecv demo --out out/demo

test: data
	$(BIN)/ruff check edgecv export runtime devices eval scale tests bench
	$(BIN)/python -m pytest -q -rs tests

soak: data
	$(BIN)/python -m pytest -q -rs -m soak tests/test_soak.py

bench: data
	$(BIN)/python bench/bench_ops.py
	$(BIN)/python bench/bench_int8.py

clean:
	rm -rf $(VENV) out artifacts .pytest_cache
