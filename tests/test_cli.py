"""The `citestream` command, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.corpus import write_corpus


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


def test_ingest_then_ingest_again_changes_nothing(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    data = tmp_path / "data"
    first = _citestream("ingest", str(docs), data_dir=data)
    again = _citestream("ingest", str(docs), data_dir=data)
    assert first.returncode == 0, first.stderr
    assert "added 3, updated 0, unchanged 0, failed 0" in first.stdout
    assert "added 0, updated 0, unchanged 3, failed 0" in again.stdout


def test_ingest_of_nothing_usable_fails_with_reasons(tmp_path: Path) -> None:
    result = _citestream("ingest", str(tmp_path / "nope.md"), data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert "no such file or folder" in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = _citestream("db", "upgrade", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "citestream.db").exists()
