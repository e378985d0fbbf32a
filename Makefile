# Two commands do all the set-up on a fresh machine:
#   make demo   install, then extract the bundled sample scan
#   make test   install, then run the whole test suite (what .ci/run calls)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: install fonts browser demo test test-fast bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

# CJK fonts are needed only to render test scans (the product itself needs none)
fonts:
	@{ fc-list 2>/dev/null | grep -q "Noto Sans CJK" && [ -f /usr/share/fonts/truetype/arphic/ukai.ttc ]; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq fonts-noto-cjk fonts-wqy-zenhei fonts-arphic-uming fonts-arphic-ukai >/dev/null; }

# Debian's chromium for the review page's browser test (Playwright drives it; no browser is downloaded)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/extractor extract samples/sample.pdf -o out/sample.json --csv out/sample_csv
	@$(PY) -c "import json; d=json.load(open('out/sample.json')); t=[t for p in d['pages'] for t in p['tables']]; print(f'{len(d[\"pages\"])} pages, {len(t)} tables, {sum(len(x[\"cells\"]) for x in t)} cells -> out/sample.json, out/sample_csv/')"

test: install fonts browser
	$(PY) -m pytest -q

test-fast: install fonts
	$(PY) -m pytest -q -m "not slow"

bench: install fonts
	$(PY) scripts/benchmark.py

clean:
	rm -rf out .pytest_cache
