# `make test` creates .venv on first use, installs the package editable with its dev extra, then lints and
# runs the whole suite. `make demo` compresses a pix2pix GAN end to end (configs/demo.toml) and prints the table.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# web_demo/ (the browser demo); see the web-demo targets below
CHROMIUM := /usr/bin/chromium
WEB := web_demo
WEB_NPM := $(WEB)/node_modules/.package-lock.json
WEB_DIST := $(WEB)/dist/index.html
WEB_SOURCES := $(WEB)/package.json $(WEB)/index.html $(WEB)/vite.config.js $(shell find $(WEB)/src $(WEB)/public -type f)
WEB_PORT ?= 5173

.PHONY: test lint format demo demo-clean clean web-demo web-assets android-assets

$(STAMP): setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check tfgancomp mobile_export tests benchmarks
	$(PY) -m ruff format --check tfgancomp mobile_export tests benchmarks

# Two worker processes (one per core of the CI machine), each module's tests kept in one worker so that module
# fixtures (tiny teacher runs, datasets) are built once: 1.6x faster than one process on 2 cores.
test: lint $(CHROMIUM) $(WEB_DIST)
	$(PY) -m pytest -q -n 2 --dist loadscope --durations=30

format: $(STAMP)
	$(PY) -m ruff format tfgancomp mobile_export tests benchmarks
	$(PY) -m ruff check --fix tfgancomp mobile_export tests benchmarks

# The demo: the embedded edges2shapes dataset (written once, byte-identical for a seed), then `compress` with
# configs/demo.toml into runs/demo/compress (the same command again skips the finished stages; `make demo-clean`
# starts afresh). It prints the table teacher | float16 | int8 and where report.html is.
DEMO := runs/demo
$(DEMO)/edges2shapes/dataset.json: | $(STAMP)
	rm -rf $(DEMO)/edges2shapes
	$(VENV)/bin/tfgancomp data synth --task edges2shapes --out $(DEMO)/edges2shapes --size 64 --num-train 300 \
		--num-test 100 --seed 0

demo: $(STAMP) $(DEMO)/edges2shapes/dataset.json
	$(VENV)/bin/tfgancomp compress --config configs/demo.toml --out $(DEMO)/compress --quiet

demo-clean:
	rm -rf $(DEMO)

# The browser demo (web_demo/) and what its browser test (tests/web_demo) needs; these files are the stamps: Debian's
# Chromium, installed (as root) only when missing; `npm ci` when package-lock.json is newer than the last install;
# the page rebuilt when a source or an installed bundle (public/) is newer than dist/index.html.
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) sh -c 'apt-get update && apt-get install -y chromium'

$(WEB_NPM): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund

$(WEB_DIST): $(WEB_NPM) $(WEB_SOURCES)
	cd $(WEB) && npm run build

# Build and serve the page on http://127.0.0.1:$(WEB_PORT)/ (loopback only) with the cross-origin isolation headers
# that LiteRT.js's multi-threaded WASM needs.
web-demo: $(WEB_DIST)
	node $(WEB)/serve.mjs --port $(WEB_PORT)

# Install export bundles into the page: make web-assets COMPRESSED=BUNDLE_DIR [TEACHER=BUNDLE_DIR]
web-assets:
	@test -n "$(COMPRESSED)$(TEACHER)" || { echo "usage: make web-assets COMPRESSED=BUNDLE_DIR [TEACHER=BUNDLE_DIR]"; exit 2; }
	$(MAKE) $(STAMP)
	$(PY) -m mobile_export.web_assets --web-dir $(WEB) $(if $(COMPRESSED),compressed=$(COMPRESSED)) \
		$(if $(TEACHER),teacher=$(TEACHER))

# Install an export bundle into the Android sample app: make android-assets BUNDLE=DIR [EXAMPLES='a.png b.png']
android-assets:
	@test -n "$(BUNDLE)" || { echo "usage: make android-assets BUNDLE=<bundle dir> [EXAMPLES='a.png b.png']" >&2; exit 2; }
	$(MAKE) $(STAMP)
	$(PY) -m mobile_export.android_assets "$(BUNDLE)" android_demo $(EXAMPLES)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
