# Two commands on a fresh machine:
#   make run   - create .venv, install Helpline, serve on the embedded store (hub.toml)
#   make test  - create .venv-test (Python 3.13, for the MongoDB wire server), run every test
.PHONY: run test lint bench clean

# Any Python >= 3.11 serves; the tests need >= 3.13 (mongoeco). pyenv's 3.13 is found too.
PYTHON ?= $(shell command -v python3.13 >/dev/null 2>&1 && PYENV_VERSION=3.13.0 python3.13 -c 'print(1)' >/dev/null 2>&1 && echo 'env PYENV_VERSION=3.13.0 python3.13' || echo python3)
TEST_PYTHON ?= $(shell for p in python3.14 python3.13; do \
	for v in "" "env PYENV_VERSION=3.13.0 "; do \
	  if $$v$$p -c 'import sys; assert sys.version_info >= (3, 13)' >/dev/null 2>&1; then echo "$$v$$p"; exit 0; fi; \
	done; done; \
	if python3 -c 'import sys; assert sys.version_info >= (3, 13)' >/dev/null 2>&1; then echo python3; fi)
PYTEST_ARGS ?=

.venv/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Helpline needs Python >= 3.11"'
	$(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet --upgrade pip
	.venv/bin/pip install --quiet -e .
	touch $@

run: .venv/.installed
	.venv/bin/helpline serve --config hub.toml

.venv-test/.installed: pyproject.toml
	@if [ -z "$(TEST_PYTHON)" ]; then \
	  echo "make test needs Python 3.13 or newer (the MongoDB contract tests run mongoeco, which needs it)."; \
	  echo "Install one, e.g.: pyenv install 3.13.0, or apt-get install python3.13 python3.13-venv,"; \
	  echo "or run with TEST_PYTHON=/path/to/python3.13 make test."; \
	  exit 1; fi
	$(TEST_PYTHON) -m venv .venv-test
	.venv-test/bin/pip install --quiet --upgrade pip
	.venv-test/bin/pip install --quiet -e '.[test]'
	touch $@

test: .venv-test/.installed
	.venv-test/bin/python -m pytest $(PYTEST_ARGS)

lint: .venv-test/.installed
	.venv-test/bin/pip install --quiet -e '.[test,lint]'
	.venv-test/bin/ruff check hub conversation adapters plugins tests bench
	.venv-test/bin/ruff format --check hub conversation adapters plugins tests bench
	.venv-test/bin/mypy hub conversation adapters plugins

bench: .venv/.installed
	.venv/bin/python bench/ingest.py
	.venv/bin/python bench/inbox.py
	.venv/bin/python bench/webchat.py
	.venv/bin/python bench/email.py
	.venv/bin/python bench/faults.py
	.venv/bin/python bench/simulate.py
	OMP_NUM_THREADS=1 .venv/bin/python bench/faq.py

clean:
	rm -rf .venv .venv-test data test-artifacts
