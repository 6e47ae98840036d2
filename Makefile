# coral_serve: `make run` starts the control plane, `make test` runs every test tier.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Debian packages the tests use (installed only when missing).
APT_PACKAGES := procps victoria-metrics prometheus chromium mosquitto

.PHONY: setup run test test-unit test-ray test-cluster test-browser fuzz manifests lint format docs system-deps clean screenshot test-unit-snapshot

# The example plugin is installed too: the tests exercise it like any third-party plugin.
$(STAMP): pyproject.toml plugins/coral-line-counter/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' -e plugins/coral-line-counter
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m coral_serve

system-deps:
	scripts/apt-install.sh $(APT_PACKAGES)

test: setup system-deps lint test-unit-snapshot test-ray test-cluster test-browser

# Tier 1: no Ray at all (in-process services, routes through httpx.ASGITransport).
test-unit: setup
	$(PY) -m pytest -q -rs tests/unit

# Tiers 2/3: a real Ray; its own pytest process, since Ray sessions do not mix with tier 1.
test-ray: setup
	$(PY) -m pytest -q -rs tests/integration

# A multi-node Ray cluster simulated on this machine (ray.cluster_utils): the test process
# is one of its drivers, so it shares its pytest process with no other Ray test.
test-cluster: setup
	$(PY) -m pytest -q -rs tests/cluster

# Headless Debian Chromium (driven by Playwright, never `playwright install`) against
# in-process services on a loopback port.
test-browser: setup system-deps
	$(PY) -m pytest -q -rs tests/browser

# Tier 1 as `make test` runs it: in a copy of what git would commit, under CI=true, seeing
# of ../shared only what tests/skip_policy.py lists, so a fresh clone's tests pass too.
test-unit-snapshot: setup system-deps
	scripts/unit-tier-in-snapshot.sh $(PY) -q -rs

# Regenerate the README's picture of the dashboard: the demo as `make run` shows it.
screenshot: setup system-deps
	SCREENSHOT_TO=docs/dashboard-demo.png $(PY) -m pytest -q -rs tests/browser/test_demo.py

# Schemathesis over the whole API with thousands of generated requests (minutes; CI runs
# the same test with a few examples per operation).
fuzz: setup
	CORAL_FUZZ_EXAMPLES=60 $(PY) -m pytest -q -s tests/unit/security/test_fuzz.py

# Ruff, then the layer contracts of pyproject.toml [tool.importlinter].
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Regenerate the configuration reference in README.md from the schema.
docs: setup
	$(PY) scripts/update_readme_reference.py

# Regenerate the committed KubeRay example (a test fails when it is stale).
manifests: setup
	$(VENV)/bin/coral-runtime deploy kuberay -c deployments/runtime.yaml \
		-o deployments/coral-rayservice.yaml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
