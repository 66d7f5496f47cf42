# DigitalMe — the make targets are the interface: run, test, lint, bench.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | sha1sum | cut -c1-12)
# llama.cpp is compiled for a portable x86-64 level, never -march=native: on a CPU that advertises
# AMX inside a VM that doesn't enable AMX state, a native build dies with SIGILL at the first token
# (seen here). The wheel is built once per machine into LLAMA_WHEELS, without pip's cache (which may
# hold an old native build), and every venv installs that wheel; rebuilt only when the pin or the
# flags change.
LLAMA_REQ := $(shell grep -E '^llama-cpp-python==' requirements/local-llm.txt)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_ID := $(shell echo '$(LLAMA_REQ) $(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)
LLAMA_STAMP := $(VENV)/.llama-$(LLAMA_ID)
LLAMA_WHEELS ?= $(HOME)/.cache/digitalme/llama-$(LLAMA_ID)

# Test defaults: real PostgreSQL and Redis on this machine (override in the environment).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/digitalme
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := ENV_FILE= DEBUG=false SECRET_KEY=test-secret-key-not-for-production JWT_SIGNING_KEY=test-jwt-signing-key-not-for-production-0123456789 \
	SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false \
	ALLOWED_HOSTS=localhost,127.0.0.1,testserver STATICFILES_BACKEND=django.contrib.staticfiles.storage.StaticFilesStorage WHITENOISE_USE_FINDERS=true \
	LLM_MODEL=fake/ivan LITELLM_LOCAL_MODEL_COST_MAP=True TEST_OUTPUT_DIR=$(CURDIR)/test-output \
	OPS_HEARTBEAT_INTERVAL_S=0 PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/test-prometheus
PYTEST_ARGS ?=

.PHONY: help install run test test-lite lint bench bench-live bench-telegram bench-db-outage bench-moderation docs superuser clean

help:
	@echo "make run        start DigitalMe locally (SQLite, no Redis, bundled LLM) on http://127.0.0.1:8000"
	@echo "make test       full suite on PostgreSQL + Redis"
	@echo "make test-lite  quick suite on SQLite, in-memory layers"
	@echo "make lint       ruff + mypy"
	@echo "make bench      chat load benchmark (PostgreSQL + Redis); BENCH_ARGS=\"--processes 1,2\" for the scale-out curve"
	@echo "make bench-live   live-update latency in Chromium (Telegram/publish/second tab → page), p50/p95"
	@echo "make bench-telegram  Telegram webhook ack and reply overhead on the real stack (web + worker)"
	@echo "make bench-db-outage  seconds until web routes answer again after PostgreSQL comes back (a cut proxy)"
	@echo "make bench-moderation  per-message cost of the offline moderation layers"
	@echo "make docs       documentation site (MkDocs, --strict, offline) into var/docs/site"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(LLAMA_STAMP): $(PY)
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
		echo "Building llama-cpp-python once for this machine (a few minutes)"; \
		tmp=$$(mktemp -d) && \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --quiet --no-deps --no-cache-dir -w $$tmp $(LLAMA_REQ) && \
		mkdir -p $(dir $(LLAMA_WHEELS)) && { mv -T $$tmp $(LLAMA_WHEELS) 2>/dev/null || rm -rf $$tmp; }; \
	fi
	$(PIP) install --quiet --no-deps --force-reinstall --no-index --find-links $(LLAMA_WHEELS) $(LLAMA_REQ)
	rm -f $(VENV)/.llama-*
	touch $(LLAMA_STAMP)

$(STAMP): $(PY) $(LLAMA_STAMP)
	$(PIP) install --quiet -c requirements/constraints.txt -r requirements/dev.txt
	$(PIP) install --quiet --no-deps -r requirements/local-llm.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	@$(PY) tools/dev_env.py
	$(PY) manage.py migrate --noinput
	# personality: Ivan's default persona (idempotent)
	$(PY) manage.py load_persona personality/data/ivan.yaml
	$(PY) manage.py ensure_superuser
	@echo ""
	@echo "  DigitalMe is starting on http://127.0.0.1:$${PORT:-8000}/  (Ctrl-C stops web, worker and beat)"
	@echo "  Live operations dashboard for admins: http://127.0.0.1:$${PORT:-8000}/ops/"
	@echo ""
	# ops: one fresh Prometheus multiprocess directory shared by web, worker and beat
	rm -rf var/prometheus && mkdir -p var/prometheus
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH PORT=$${PORT:-8000} PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus honcho -f Procfile.dev start

superuser: install
	$(PY) manage.py createsuperuser

test: install
	@mkdir -p staticfiles test-output
	@# ops: promtool for the alert-rule tests (fetched from Debian's prometheus package when missing)
	@tools/ensure_promtool.sh >/dev/null
	@# browser tests: Debian's chromium, found or installed (apt-get as root), else stop here naming the fix
	@tools/ensure_chromium.sh >/dev/null
	@# web quality: Lighthouse from npm (tools/lighthouse/package-lock.json), installed once into ~/.cache
	@tools/ensure_lighthouse.sh >/dev/null
	@rm -rf var/test-prometheus && mkdir -p var/test-prometheus
	@$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) tools/check_services.py
	$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		CHROMIUM=$$(tools/ensure_chromium.sh) LIGHTHOUSE_DIR=$$(tools/ensure_lighthouse.sh) $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

test-lite: install
	@rm -rf var/test-prometheus && mkdir -p var/test-prometheus
	$(TEST_ENV) DATABASE_URL=sqlite:///$(CURDIR)/var/test-lite.sqlite3 REDIS_URL= \
		$(PY) -m pytest -m "not browser" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TEST_ENV) $(VENV)/bin/mypy .

bench: install
	@rm -rf var/test-prometheus && mkdir -p var/test-prometheus
	@$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) tools/check_services.py
	$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) tools/bench.py $(BENCH_ARGS)

# Live-update latency in Chromium (Telegram → web tab, publish → persona page, tab → tab): p50/p95.
bench-live: install
	@tools/ensure_chromium.sh >/dev/null
	@rm -rf var/test-prometheus && mkdir -p var/test-prometheus
	@$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) tools/check_services.py
	$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		CHROMIUM=$$(tools/ensure_chromium.sh) $(PY) tools/live_latency.py --json bench-output/live-latency.json $(BENCH_ARGS)

bench-telegram: install
	@rm -rf var/test-prometheus && mkdir -p var/test-prometheus
	@$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) tools/check_services.py
	$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) tools/telegram_latency.py $(BENCH_ARGS)

bench-db-outage: install
	$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) tools/db_outage.py $(BENCH_ARGS)

bench-moderation: install
	$(TEST_ENV) DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) tools/moderation_bench.py

# docs: the OpenAPI schema from the code, then the strict MkDocs build (no network needed).
docs: install
	@mkdir -p var/docs
	$(TEST_ENV) DATABASE_URL=sqlite:///$(CURDIR)/var/docs/schema.sqlite3 REDIS_URL= \
		$(PY) manage.py spectacular --format openapi-json --file var/docs/openapi.json
	NO_MKDOCS_2_WARNING=1 $(TEST_ENV) $(VENV)/bin/mkdocs build --strict --quiet
	@echo "docs: $(CURDIR)/var/docs/site/index.html"

clean:
	rm -rf $(VENV) staticfiles test-output bench-output .pytest_cache .mypy_cache .ruff_cache
