# Every target bootstraps its own virtualenv (.venv) on a fresh machine; no Frappe bench is needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-pythons pytest nodetest lint bench bench-live bench-scale bench-messages bench-sync bench-campaign bench-inbox simulate clean

# Installed under the pins a Frappe 15 bench has (tests/bench-pins.txt), so the tests run what a bench runs.
PINS := tests/bench-pins.txt

$(STAMP): pyproject.toml $(PINS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c $(PINS) -e '.[test]'
	touch $(STAMP)

## The main job: the whole flow against the built-in gateway simulator.
demo: $(STAMP)
	$(VENV)/bin/whatsapp-crm demo

## Everything CI runs: lint, pytest (exit 5, "no tests collected", is a failure here), node tests.
test: lint pytest nodetest

pytest: $(STAMP)
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure"; exit 1; fi; exit $$rc

## Node tests, by file name (a folder argument runs nothing on Node 22+); no test run is a failure.
NODE ?= node
nodetest:
	@out=$$($(NODE) --test --test-reporter=tap tests/js/*.test.mjs 2>&1); rc=$$?; echo "$$out"; \
	passed=$$(echo "$$out" | sed -n 's/^# pass \([0-9][0-9]*\)$$/\1/p' | tail -n 1); \
	echo "node $$($(NODE) --version): $${passed:-0} tests passed"; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	if [ "$${passed:-0}" -eq 0 ]; then echo "node ran no test: treating as a failure"; exit 1; fi

## pytest on the oldest and newest Python the project supports (each in its own .venv-X.Y); an interpreter
## that is not installed is a failure, not a skip.
PYTHONS ?= 3.10 3.13
test-pythons:
	@for v in $(PYTHONS); do \
		py=; for c in $$(command -v python$$v) $$(ls -d $$HOME/.pyenv/versions/$$v.*/bin/python$$v 2>/dev/null); do \
			if $$c -c 'import sys' 2>/dev/null; then py=$$c; break; fi; done; \
		if [ -z "$$py" ]; then echo "python$$v is not installed"; exit 1; fi; \
		echo "== pytest on $$($$py --version)"; \
		$(MAKE) --no-print-directory pytest PYTHON=$$py VENV=.venv-$$v || exit 1; \
	done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) benchmarks/bench_acquire.py

## Live-session numbers (P1-P4) against a running site: make bench-live BASE=http://127.0.0.1:8000 SITE=mysite
BASE ?= http://127.0.0.1:8000
SOCKET ?= http://127.0.0.1:9000
SITE ?= $(error set SITE to the site name, e.g. make bench-live SITE=crm.example.com)
bench-live: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(PY) benchmarks/bench_live.py --base $(BASE) --socket $(SOCKET) --site $(SITE)

## Sessions at scale (P5-P9), run inside a bench: make bench-scale BENCH=/path/to/frappe-bench SITE=mysite
BENCH ?= $(error set BENCH to the frappe-bench folder)
bench-scale:
	cd $(BENCH)/sites && $(BENCH)/env/bin/python $(CURDIR)/benchmarks/bench_scale.py --site $(SITE) --base $(BASE)

## The inbox's numbers (I1 Leads from a burst, I2 the list by status, I4 message search, I5 a thread of 20 photos), inside a bench
bench-inbox:
	cd $(BENCH)/sites && $(BENCH)/env/bin/python $(CURDIR)/benchmarks/bench_inbox.py --site $(SITE) --base $(BASE)

## Messages (M1, M2) through CRM's WhatsApp API, inside a bench with frappe_whatsapp and Frappe CRM:
## make bench-messages BENCH=/path/to/frappe-bench SITE=mysite
bench-messages:
	cd $(BENCH)/sites && $(BENCH)/env/bin/python $(CURDIR)/benchmarks/bench_messages.py --site $(SITE) --base $(BASE)

## Catch-up (R1-R4): missed webhooks read back, a webhook burst, a send job killed mid-flush, inside a bench with
## frappe_whatsapp and its workers running: make bench-sync BENCH=/path/to/frappe-bench SITE=mysite
bench-sync:
	cd $(BENCH)/sites && $(BENCH)/env/bin/python $(CURDIR)/benchmarks/bench_sync.py --site $(SITE) --base $(BASE)

## Campaigns and the sending policy (S1-S4): pacing, a reply while a campaign runs, pause / resume / a killed worker,
## 50,000 Leads prepared; inside a bench with Frappe CRM, frappe_whatsapp and its workers and scheduler running:
## make bench-campaign BENCH=/path/to/frappe-bench SITE=mysite ARGS="--only S1,S2 --s1-recipients 120"
bench-campaign:
	cd $(BENCH)/sites && $(BENCH)/env/bin/python $(CURDIR)/benchmarks/bench_campaign.py --site $(SITE) $(ARGS)

simulate: $(STAMP)
	$(VENV)/bin/whatsapp-crm simulate

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
