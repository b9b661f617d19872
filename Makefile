# Dateline: `make demo` sets up and serves a demo news archive; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
DEMO    = data/demo
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install browser demo serve-demo test test-fast lint bench-quality bench-latency bench-versus clean

install: $(VENV)/.installed

# torch==2.13.0 first: it is the CPU build; letting pip pick torch for sentence-transformers pulls CUDA (GBs).
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Dateline needs Python 3.11+ (set PYTHON=...)"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

$(DEMO)/NewsArticles.csv: | install
	$(PY) scripts/fetch-demo-corpus $(DEMO)

$(DEMO)/index/current/manifest.json: $(DEMO)/NewsArticles.csv
	$(PY) scripts/rebuild-index --index $(DEMO)/index $(DEMO)/NewsArticles.csv

demo: $(DEMO)/index/current/manifest.json
	$(PY) -m search serve --index $(DEMO)/index --host $(HOST) --port $(PORT)

# Debian's Chromium for the browser test (tests/test_browser.py); installed when this is root on Debian/Ubuntu.
browser:
	@[ -x /usr/bin/chromium ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: no /usr/bin/chromium: the browser test will skip (apt-get install chromium)"; fi; }

# Ray is an optional extra (docs/distributed.md); the full suite installs it for the two-node Ray test.
$(VENV)/.ray-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,ray]'
	@touch $@

test: install browser $(VENV)/.ray-installed
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

lint: install
	$(PY) -m pip install --quiet ruff mypy
	$(PY) -m ruff check index search scripts tests benchmarks
	$(PY) -m mypy index search

bench-quality: install
	$(PY) benchmarks/quality.py --index $(INDEX)

bench-latency: install
	$(PY) benchmarks/latency.py --index $(INDEX)

# Dateline against Pyserini, txtai and Haystack (benchmarks/versus.py): each rival in its own virtual environment,
# torch's CPU build first where the rival pulls torch. Needs INDEX=DIR (a built index) and about 8 GB of disk.
RIVALS   = .venv-rivals
VERSUS  ?= /tmp/dateline-versus
$(RIVALS)/%/.installed: benchmarks/rivals/requirements-%.txt
	$(PYTHON) -m venv $(RIVALS)/$*
	$(RIVALS)/$*/bin/pip install --quiet --upgrade pip
	[ "$*" = haystack ] || $(RIVALS)/$*/bin/pip install --quiet torch==2.13.0
	$(RIVALS)/$*/bin/pip install --quiet -r $<
	@touch $@

bench-versus: install $(RIVALS)/pyserini/.installed $(RIVALS)/txtai/.installed $(RIVALS)/haystack/.installed
	@[ -n "$(INDEX)" ] || { echo "make bench-versus INDEX=DIR: DIR is a built index"; exit 2; }
	$(PY) benchmarks/versus.py export --index $(INDEX) --out $(VERSUS)/export
	$(PY) benchmarks/versus.py dateline --index $(INDEX) --export $(VERSUS)/export --out $(VERSUS)/runs
	$(RIVALS)/pyserini/bin/python benchmarks/rivals/pyserini_run.py --export $(VERSUS)/export --out $(VERSUS)/runs
	$(RIVALS)/txtai/bin/python benchmarks/rivals/txtai_run.py --export $(VERSUS)/export --out $(VERSUS)/runs
	$(RIVALS)/haystack/bin/python benchmarks/rivals/haystack_run.py --export $(VERSUS)/export --out $(VERSUS)/runs --runs bm25,dense
	$(RIVALS)/haystack/bin/python benchmarks/rivals/haystack_run.py --export $(VERSUS)/export --out $(VERSUS)/runs --join
	$(PY) benchmarks/versus.py score --baseline dateline-hybrid --export $(VERSUS)/export $(VERSUS)/runs/*.run

clean:
	rm -rf $(VENV) $(RIVALS) $(DEMO) .pytest_cache
