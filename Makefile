# registry_client: `make demo` runs the demo, `make test` runs every check CI runs.
# Both install what they need: a venv with the package, and (when missing) the
# Debian packages docker-registry and skopeo.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# A second venv with the LOWEST versions pyproject.toml allows for the direct
# dependencies (uv's --resolution lowest-direct), so a declared floor cannot rot.
LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint docs unit lowest integration bench system-deps clean

# Debian's own python3 needs python3-venv for `-m venv` (ensurepip); install it if missing.
$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		rm -rf $(VENV); $(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y python3-venv && \
		$(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,async,docs,dask]'
	touch $(STAMP)

# uv resolves the lowest versions (pip cannot); installed into the main venv.
$(BIN)/uv: $(STAMP)
	$(BIN)/pip install -q uv
	touch $@

# Rebuilt when pyproject.toml changes, like the main venv; uv's cache keeps it fast.
$(LOWEST_STAMP): pyproject.toml $(BIN)/uv
	rm -rf $(LOWEST)
	$(BIN)/uv venv -q --python $(BIN)/python $(LOWEST)
	$(BIN)/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[test]'
	@echo "lowest: $$($(BIN)/uv pip freeze -q --python $(LOWEST)/bin/python \
		| grep -iE '^(requests|urllib3|attrs|cattrs|tqdm|pyyaml)==' | tr '\n' ' ')"
	touch $(LOWEST_STAMP)

# docker-registry: the real registry the tests run; skopeo: interop tests and the
# benchmark's peer; time (GNU /usr/bin/time): the benchmark's peak-RSS readings;
# umoci: unpacks the images mutate builds, proof by a tool we did not write.
system-deps:
	@if [ ! -x /usr/bin/docker-registry ] || ! command -v skopeo >/dev/null 2>&1 \
			|| [ ! -x /usr/bin/time ] || ! command -v umoci >/dev/null 2>&1; then \
		$(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y docker-registry skopeo time umoci; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check registry_client tests examples benchmarks docs/_hooks
	$(BIN)/mypy --strict registry_client
	$(BIN)/lint-imports --no-cache

test: $(STAMP) system-deps lint lowest docs
	$(BIN)/pytest -q -p no:cacheprovider

# The documentation site (mkdocs.yml, docs/): --strict turns every warning -- a broken
# link or reference, a page missing from the nav, a docstring mkdocstrings cannot read --
# into a failure.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d build/site

# The unit tests and one real-registry pull with the lowest allowed dependencies,
# and without the async extra: the blocking API never needs httpx (tests/unit/aio
# are the asyncio flavour's own).
lowest: $(LOWEST_STAMP) system-deps
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider tests/unit \
		tests/integration/test_dependency_floors.py --ignore=tests/unit/aio

unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

demo: $(STAMP) system-deps
	$(BIN)/python examples/demo.py

bench: $(STAMP) system-deps
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(LOWEST) build *.egg-info
