# Two commands: `make run` (the app on http://localhost:8501) and `make test` (everything CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
# Quiet pip; this machine's pip config also prints many harmless "Location ... is ignored" warnings,
# filtered out here (pipefail keeps pip's own exit status).
PIP_INSTALL = set -o pipefail; $(PY) -m pip install -q --disable-pip-version-check $(1) 2>&1 \
	| { grep -v "^WARNING: Location '.*' is ignored" || true; }
PORT   ?= 8501
# localhost only by default; `make run ADDRESS=0.0.0.0` serves a classroom network.
ADDRESS ?= localhost

.PHONY: run test bench venv chromium postgresql clean

# The virtual environment; requirements are installed again only when their file changes.
$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.req-stamp: requirements.txt | $(PY)
	$(call PIP_INSTALL,-r requirements.txt)
	touch $@

$(VENV)/.dev-stamp: requirements-dev.txt $(VENV)/.req-stamp
	$(call PIP_INSTALL,-r requirements-dev.txt)
	touch $@

venv: $(VENV)/.dev-stamp

# Workspaces (networks, runs, weights) are kept in data/playground.db (SQLite) unless PLAYGROUND_DATABASE_URL names
# another database.
run: $(VENV)/.req-stamp
	mkdir -p data
	$(PY) -m streamlit run app.py --server.port=$(PORT) --server.address=$(ADDRESS)

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ ! -x /usr/bin/chromium-headless-shell ]; then \
		SUDO=""; \
		if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi; \
		echo "Installing Debian's chromium for the browser tests"; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; \
	fi

# The workspace store's tests also run on PostgreSQL: a throwaway cluster in a temporary folder, started by the
# tests with Debian's initdb and pg_ctl (tests/pg_cluster.py; PLAYGROUND_TEST_POSTGRES=skip skips them); the
# two-replica browser test puts HAProxy in front (deploy/haproxy.cfg).
postgresql:
	@missing=""; \
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
		missing="postgresql"; fi; \
	if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then missing="$$missing haproxy"; fi; \
	if [ -n "$$missing" ]; then \
		SUDO=""; \
		if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi; \
		echo "Installing Debian's$$missing for the store's and the replicas' tests"; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

test: $(VENV)/.dev-stamp chromium postgresql
	$(PY) -m pytest

# Each benchmark prints its ratios against a bare PyTorch baseline run in the same process.
bench: $(VENV)/.req-stamp
	@shopt -s nullglob; scripts=(benchmarks/*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "no benchmarks yet"; fi; \
	for f in "$${scripts[@]}"; do echo "== $$f"; PYTHONPATH=. $(PY) "$$f" || exit 1; done

clean:
	rm -rf $(VENV) test-results
