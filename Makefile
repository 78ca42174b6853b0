# registry_client: `make demo` runs the demo, `make test` runs every check CI runs.
# Both install what they need: a venv with the package, and (when missing) the
# Debian packages docker-registry and skopeo.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint unit integration bench system-deps clean

# Debian's own python3 needs python3-venv for `-m venv` (ensurepip); install it if missing.
$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		rm -rf $(VENV); $(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y python3-venv && \
		$(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# docker-registry: the real registry the tests run; skopeo: interop tests and the
# benchmark's peer; time (GNU /usr/bin/time): the benchmark's peak-RSS readings.
system-deps:
	@if [ ! -x /usr/bin/docker-registry ] || ! command -v skopeo >/dev/null 2>&1 \
			|| [ ! -x /usr/bin/time ]; then \
		$(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y docker-registry skopeo time; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check registry_client tests examples benchmarks
	$(BIN)/mypy --strict registry_client

test: $(STAMP) system-deps lint
	$(BIN)/pytest -q -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

demo: $(STAMP) system-deps
	$(BIN)/python examples/demo.py

bench: $(STAMP) system-deps
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
