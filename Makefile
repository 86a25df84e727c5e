# The lab's commands. Each creates .venv on first use and installs labkit with what the tests need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
PORT ?= 8888

.PHONY: lab test test-fast lint run notebooks data clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## make lab: open the lab in JupyterLab (token authentication, printed in the URL)
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(PORT) $(LAB_ARGS) $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
		--IdentityProvider.token="$${JUPYTER_TOKEN:-$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(24))')}"

## make test: lint, unit tests and every notebook (papermill, quick settings)
test: lint
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

## make test-fast: lint and the unit tests, without notebooks, Jupyter, the browser or worker processes (< 1 minute)
test-fast: lint
	$(BIN)/python -m pytest tests -m "not slow" -q $(PYTEST_ARGS)

## make lint: ruff's checks and its format check (fix with: .venv/bin/ruff format . && .venv/bin/ruff check --fix .)
lint: $(STAMP)
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .

## make run: execute every notebook at full settings into outputs/ (a rendered copy of the lab)
run: $(STAMP)
	$(BIN)/python -m labkit.tools.run_notebooks --out outputs

## make notebooks: execute every notebook at full settings and save it with its outputs (what is committed; ~52 minutes on 2 cores)
notebooks: $(STAMP)
	$(BIN)/python -m labkit.tools.run_notebooks --in-place

## make data: rebuild data/teacher and data/student from scratch (about 17 minutes on 2 cores)
data: $(STAMP)
	$(BIN)/python -m labkit build-data --out data

clean:
	rm -rf outputs .pytest_cache
