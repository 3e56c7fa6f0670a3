# One entry point for people, CI and hooks. `make check` is the README's test command.
# Everything Python goes into a virtual environment (.venv): a stock Debian python3 refuses pip
# installs into itself (PEP 668), and the project must not depend on what the system Python holds.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip

.PHONY: install install-test lint typecheck test cov check bench clean

$(PYTHON):           # python3-venv: what a stock Debian python3 lacks to make one (needs root)
	python3 -c 'import ensurepip' 2>/dev/null || \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv)
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(PYTHON)  ## the package, its command and the daemon (with S3), in .venv
	$(PIP) install -q -e '.[s3,daemon]'

install-test: $(PYTHON)  ## everything the tests, lint and type check need (pip and Debian packages)
	bash scripts/install-test-deps.sh
	$(PIP) install -q -e '.[test,lint]'

lint:
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m ruff format --check src tests benchmarks

PORTABLE_MODULES := $(filter-out %/inotify.py %/_inotify_sys.py %/_inotify_tree.py %/appear.py,$(wildcard src/fsreplica/watch/*.py))

typecheck:
	$(PYTHON) -m mypy
	# the watcher outside Linux: everything but the inotify modules (imported only on Linux)
	$(PYTHON) -m mypy --strict --follow-imports=silent --platform darwin $(PORTABLE_MODULES)
	$(PYTHON) -m mypy --strict --follow-imports=silent --platform win32 $(PORTABLE_MODULES)

# FSREPLICA_REQUIRE_NATIVE: fail (not fall back to Python) if the C extension was not built.
test:
	FSREPLICA_REQUIRE_NATIVE=1 $(PYTHON) -m pytest -q -p no:cacheprovider --cov --cov-report=term

check: install-test lint typecheck test   ## install, lint, type check, whole test suite

bench:              ## peers are installed by the benchmark scripts themselves
	$(PYTHON) benchmarks/watcher_bench.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .coverage src/*.egg-info src/fsreplica/watch/*.so
