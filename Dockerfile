# Citestream: async RAG chat backend that streams cited answers as Server-Sent Events.
#
#   docker build -t citestream .
#   docker run --rm -p 8000:8000 -v citestream-data:/data citestream
#
# At start the container ingests docs/ (Citestream's own documentation) into the default
# collection and samples/corpus into the `samples` collection, then serves the API on port 8000.
# Documents, chunks and conversations are in the database; embedded Qdrant (dense retrieval,
# when configured) under /data. See docs/operations.md.
#
# With the default SQLite database the server creates and upgrades its schema itself. Pointed at
# PostgreSQL (CITESTREAM_DATABASE__URL), it does not: run `citestream db upgrade` first, as the
# command in docker-compose.yml does, or the server refuses to start on an out-of-date schema.
#
# It serves one process. Several on the one port (CITESTREAM_SERVER__WORKERS=N, or
# `citestream serve --workers N`) need PostgreSQL and Redis, as in docker-compose.yml.

FROM python:3.11-slim

# llama-cpp-python is compiled from source: it needs a C/C++ toolchain and CMake.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir uv

# Compile llama.cpp for a portable CPU baseline instead of the build machine's own CPU, so the
# image also runs on other hosts. Override with --build-arg CMAKE_ARGS=... if you need to.
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF"

# uv: precompile bytecode, copy files rather than hard-link from its cache, and use the
# image's Python 3.11 instead of downloading one.
ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself. uv installs it in editable mode, so the Alembic migrations in
# /app/alembic are found next to the app/ package.
COPY . .
RUN uv sync --frozen --no-dev

# An unprivileged user that owns the data folder.
RUN useradd --create-home --uid 1000 citestream \
    && mkdir -p /data \
    && chown -R citestream:citestream /data

# Listen on every interface; keep the index and the SQLite conversation database in /data.
# With CITESTREAM_DATABASE__URL unset, the database is citestream.db inside CITESTREAM_DATA_DIR,
# so it lives on the volume. docker-compose.yml replaces it with PostgreSQL.
ENV PATH="/app/.venv/bin:$PATH" \
    CITESTREAM_SERVER__HOST=0.0.0.0 \
    CITESTREAM_SERVER__PORT=8000 \
    CITESTREAM_DATA_DIR=/data

USER citestream
VOLUME /data
EXPOSE 8000

# Start-up ingests docs/ and, with the default llamacpp provider, loads the model: allow time.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Ingest, then serve. Re-ingesting at every start is cheap: unchanged files are skipped.
# docker-compose.yml replaces this command with one that runs `citestream db upgrade` first.
CMD ["sh", "-c", "citestream ingest docs && citestream ingest samples/corpus --collection samples && exec citestream serve"]
