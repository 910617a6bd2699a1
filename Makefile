# The two commands a new user needs: `make run` (serve on the embedded defaults) and `make test`.
# Everything else is installed by these targets from the project's own files.

UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
CODE = app tests alembic bench examples
# Test processes (pytest-xdist). Most tests wait on sockets, subprocesses and fake models rather
# than the CPU, so two share the 2-core CI machine well: 15 min instead of 23.
TEST_WORKERS ?= 2

.PHONY: run test install uv browser node-packages lint typecheck layers bench load

run: install  ## Ingest the docs and the sample handbook, then serve on http://127.0.0.1:8000
	$(UV) run citestream ingest docs
	$(UV) run citestream ingest samples/corpus --collection samples
	$(UV) run citestream serve

test: install browser node-packages lint typecheck layers  ## Lint, type-check, check the layers, run every test
	$(UV) run pytest -n $(TEST_WORKERS)

lint:
	$(UV) run ruff format --check $(CODE)
	$(UV) run ruff check $(CODE)

typecheck:
	$(UV) run mypy

layers:  ## The import-linter contracts in pyproject.toml: layers, API -> services, no cycles
	$(UV) run lint-imports

# Offline first: uv's cache already holds what an earlier install fetched and built, and going
# online can make it re-validate llama-cpp-python's source and recompile it (~5 min). A machine
# without that cache falls through to the online install.
# --compile-bytecode: the packages' .pyc files are written once, here. Where
# PYTHONDONTWRITEBYTECODE is set (it is on the machines of our sessions and CI) Python never
# writes them itself, so every process compiled every module it imported: 6.6 s of a 15 s
# `citestream keys list`, and as much for each server, CLI call and file-parsing process the
# tests start. About 30 s, once.
install: uv
	@$(UV) sync --frozen --offline --quiet --compile-bytecode 2>/dev/null \
		|| $(UV) sync --frozen --compile-bytecode

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv

# Headless Chromium for the EventSource browser test (Debian/Ubuntu, as root). Elsewhere the test
# skips with a reason, except under CI=true, where it fails.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
			&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "note: Chromium not installed; the browser test will skip"

# The real JavaScript clients the tests drive (npm `ai`, pinned in tests/clients/package-lock.json).
# Without Node the tests that need it skip with a reason, except under CI=true, where they fail.
node-packages:
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error; \
		else echo "note: npm not installed; the AI SDK tests will skip"; fi

bench: install  ## Measure start-up, streaming, history, admission, retrieval, and how often answers cite
	$(UV) run python -m bench.startup
	$(UV) run python -m bench.streaming
	$(UV) run python -m bench.history
	$(UV) run python -m bench.admission
	$(UV) run citestream evaluate
	$(UV) run python -m bench.retrieval
	$(UV) run python -m bench.citations

load: install  ## Many answers at once (fake model): SQLite at 100/300/1000 streams, 2 workers at 2000
	$(UV) run python -m bench.load
