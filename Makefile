# The lab's commands. Each creates .venv on first use and installs labkit with what the tests need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
PORT ?= 8888

.PHONY: lab test run data clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## make lab: open the lab in JupyterLab (token authentication, printed in the URL)
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(PORT) $(LAB_ARGS) $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
		--IdentityProvider.token="$${JUPYTER_TOKEN:-$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(24))')}"

## make test: unit tests and every notebook (papermill, quick settings)
test: $(STAMP)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

## make run: execute every notebook at full settings into outputs/ (a rendered copy of the lab)
run: $(STAMP)
	$(BIN)/python -m labkit.tools.run_notebooks --out outputs

## make data: rebuild data/teacher and data/student from scratch (about 17 minutes on 2 cores)
data: $(STAMP)
	$(BIN)/python -m labkit build-data --out data

clean:
	rm -rf outputs .pytest_cache
