"""`citestream --help` answers without loading what the commands run."""

import json
import subprocess
import sys

# What the commands load when they run: the app's container (and through it LlamaIndex, the
# models and the retrievers), the database layer, the document parsers.
_LOADED_ONLY_TO_RUN = (
    "app.container",
    "app.lifecycle",
    "app.ingestion",
    "llama_index",
    "sqlalchemy",
)

_PROBE = """
import json, sys
from typer.testing import CliRunner
from app.cli import cli
result = CliRunner().invoke(cli, ["--help"])
print(json.dumps({"help": result.output, "modules": sorted(sys.modules)}))
"""


def test_help_lists_every_command_without_loading_what_they_run() -> None:
    # Where no .pyc files exist (PYTHONDONTWRITEBYTECODE), every module a process loads is
    # compiled at its start: loading these for --help made it take seconds instead of under one.
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    probed = json.loads(done.stdout)
    for command in ("serve", "ingest", "reembed", "evaluate", "documents", "db", "keys"):
        assert command in probed["help"]
    loaded_too_soon = [
        module
        for module in probed["modules"]
        if any(module == heavy or module.startswith(heavy + ".") for heavy in _LOADED_ONLY_TO_RUN)
    ]
    assert loaded_too_soon == []
