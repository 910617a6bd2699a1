"""`citestream keys` and `ingest --owner`, run as an operator runs them, against a live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import MakeSettings
from tests.support.corpus import write_corpus
from tests.support.keys import bearer
from tests.support.server import serve


def _citestream(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITESTREAM_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _new_key(name: str, data_dir: Path, *extra: str) -> str:
    created = _citestream("keys", "create", "--name", name, *extra, data_dir=data_dir)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]  # the key is the last line, on its own
    assert key.startswith("cs_")
    assert len(key) >= 40
    return key


async def test_keys_are_created_listed_and_revoked_from_the_command_line(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    # The server caches key lookups for 0 s here: a revocation by another process counts at once.
    settings = make_settings(auth={"key_cache_ttl_s": 0})
    data = settings.data_dir
    alice = _new_key("alice", data)
    _new_key("operator", data, "--admin")
    duplicate = _citestream("keys", "create", "--name", "alice", data_dir=data)
    assert duplicate.returncode == 1
    assert "already a key named 'alice'" in duplicate.stderr

    listed = _citestream("keys", "list", data_dir=data)
    assert listed.returncode == 0
    assert alice not in listed.stdout  # never the secret...
    assert alice[:10] in listed.stdout  # ...only a prefix to tell keys apart
    rows = {line.split()[1]: line for line in listed.stdout.splitlines()}
    assert "user" in rows["alice"]
    assert "admin" in rows["operator"]

    docs = write_corpus(tmp_path / "alice-docs")
    ingested = _citestream(
        "ingest", str(docs), "--collection", "alices", "--owner", "alice", data_dir=data
    )
    assert ingested.returncode == 0, ingested.stderr
    unknown_owner = _citestream("ingest", str(docs), "--owner", "nobody", data_dir=data)
    assert unknown_owner.returncode == 1
    assert "no active key named 'nobody'" in unknown_owner.stderr

    async with (
        serve(settings) as server,
        httpx.AsyncClient(base_url=server.url, headers=bearer(alice)) as client,
    ):
        collections = await client.get("/api/collections")
        assert [c["name"] for c in collections.json()] == ["alices"]
        revoked = _citestream("keys", "revoke", "alice", data_dir=data)
        assert revoked.returncode == 0, revoked.stderr
        assert "no active key is left" not in revoked.stderr  # the operator's key still is
        assert (await client.get("/api/collections")).status_code == 401
    assert "revoked" in _citestream("keys", "list", data_dir=data).stdout
    last = _citestream("keys", "revoke", "operator", data_dir=data)
    assert "no active key is left" in last.stderr  # the server is open again: say so
