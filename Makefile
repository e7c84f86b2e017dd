# Two entry points: `make demo` and `make test`. Each does its own idempotent set-up.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
# Debian packages the tool and its tests need; installed only when missing.
APT_PACKAGES := rpm libseccomp-dev libseccomp2 git gcc make mmdebstrap \
                bubblewrap b3sum createrepo-c uidmap elfutils cpio zstd xz-utils \
                python3-venv libfaketime nginx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup apt venv demo test bench clean azurite

setup: apt venv

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# Node.js may come from another repository (nodesource) that bundles npm: ask for Debian's
	@# nodejs and npm only when there is no npm command at all, or apt would try to replace it.
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; }

$(VENV)/.installed: pyproject.toml
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

demo: setup
	$(VENV)/bin/hermetic -C examples build --store $(CURDIR)/store

# Azurite (the Azure Blob Storage emulator) for the azure:// cache tests, from npm, once.
AZURITE_DIR ?= $(HOME)/.cache/hermetic-test-azurite
azurite: apt
	@[ -x $(AZURITE_DIR)/node_modules/.bin/azurite-blob ] || \
	  (mkdir -p $(AZURITE_DIR) && cd $(AZURITE_DIR) && npm install --silent --no-audit --no-fund azurite@3)

test: setup azurite
	$(PY) -m pytest -q

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
