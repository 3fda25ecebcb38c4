# Two entry points, each doing all of its own set-up on a fresh machine:
#   make demo   venv + install + fetch Macbeth + train ~2 minutes + generate + inspect page + the base model + new names (--items)
#   make test   venv + install + the test suite (what CI runs)
#   make lint   ruff check + ruff format --check + the import contracts (lint-imports) + ESLint on the
#               shipped JavaScript (CI runs it before make test)
#   make docs   regenerate the README's option tables from the click commands
#   make wasm   reassemble the export's WebAssembly kernel from its source (Debian: apt-get install wabt)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint docs bench clean wasm

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/charlstm corpus fetch macbeth
	$(BIN)/charlstm train corpora/macbeth.txt --max-time 120 --overwrite --checkpoint-dir checkpoints/macbeth
	$(BIN)/charlstm generate -c checkpoints/macbeth --prime "MACBETH." --seed 1 --length 600
	$(BIN)/charlstm inspect -c checkpoints/macbeth --out checkpoints/macbeth/inspect.html
	$(BIN)/charlstm generate -c base --prime "The " --seed 1 --length 300
	$(BIN)/charlstm inspect -c base --no-gradients --out checkpoints/base-inspect.html  # live view: type into it
	$(BIN)/charlstm corpus fetch names
	$(BIN)/charlstm train corpora/names.txt --items --max-time 60 --overwrite --checkpoint-dir checkpoints/names
	$(BIN)/charlstm generate -c checkpoints/names --items 20 --novel --unique --seed 1

test: $(STAMP)
	$(BIN)/python -m pytest -q -rs --durations=15

# ESLint, pinned by package-lock.json (npm ci), for the JavaScript the package ships.
node_modules/.installed-stamp: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

lint: $(STAMP) node_modules/.installed-stamp
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/cli_docs.py --check
	node_modules/.bin/eslint charlstm tests/js

docs: $(STAMP)
	$(BIN)/python scripts/cli_docs.py

wasm:
	wat2wasm charlstm/export/js/kernel.wat -o charlstm/export/js/kernel.wasm

clean:
	rm -rf $(VENV) checkpoints/*/ .pytest_cache
