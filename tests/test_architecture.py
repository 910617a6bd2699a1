"""The shape of the code, checked: no import cycles, small modules, and a server whose start
does not wait for libraries it has not been configured to use. (The layers themselves are
import-linter contracts in pyproject.toml, run by `make test`.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

APP = Path(__file__).resolve().parents[1] / "app"
MAX_MODULE_LINES = 300
# Each takes from a third of a second to seconds to import; the server answers its health check
# without them, and loads the ones it is configured to use while it warms up.
HEAVY = ("llama_index", "llama_cpp", "openai", "qdrant_client", "bs4", "pypdf", "bm25s", "numpy")


def test_no_module_imports_itself_through_others() -> None:
    # TYPE_CHECKING imports count: a cycle there is still two modules that need each other.
    graph = grimp.build_graph("app", exclude_type_checking_imports=False)
    cycles = [
        f"{importer} -> {imported} -> ... -> {importer}"
        for importer in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if graph.chain_exists(importer=imported, imported=importer)
    ]
    assert cycles == []


def test_no_module_holds_more_than_one_concept_s_worth_of_lines() -> None:
    sizes = {
        str(path.relative_to(APP.parent)): len(path.read_text().splitlines())
        for path in APP.rglob("*.py")
    }
    assert {path: lines for path, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}


def test_the_app_imports_without_the_heavy_libraries() -> None:
    probe = (
        "import sys, app.main, app.cli\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
