"""Schemathesis against a live server: whatever it sends, every answer is what /openapi.json
says (status, content type, body and headers), and none is a server error.

Examples, coverage and fuzzing phases with schemathesis's checks, on a budget that keeps the
whole module to a few minutes on a 2-core machine. `api_headers` is the seam for credentials:
override it (e.g. `{"Authorization": "Bearer ..."}`) to run the same contract as a caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi import checks as openapi_checks

from app.container import Container
from app.core.settings import LLMSettings, Settings
from app.main import create_app
from tests.support.corpus import write_corpus
from tests.support.knowledge import ingest_paths_now
from tests.support.services import create_postgres_database, drop_postgres_database
from tests.support.threaded_server import serve_in_thread

pytestmark = pytest.mark.contract

# Per operation and phase; with ~20 operations this is the budget of the whole module.
MAX_EXAMPLES = 40
# Content the schema cannot express (a file's bytes must be UTF-8 text or a PDF, and two files
# of one upload may not share a name) makes valid-looking uploads fail with 422 or 415.
_UPLOAD = "POST /api/documents"


def contract_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 1009,
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                # Positive data only: the per-operation phases send the invalid inputs, and
                # negative mutation of linked parameters depends on what earlier steps created,
                # which Hypothesis reports as flaky data generation.
                "stateful": {"enabled": True, "generation": {"mode": "positive"}},
            },
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            # Refusing invalid input with 413 (too many files) or 414 (a URL over the limit)
            # is refusing it too.
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": [400, 401, 403, 404, 406, 413, 414, 415, 422, 428]
                }
            },
            "request-timeout": 60,
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        }
    )


def contract_settings(data_dir: Path, docs: Path, database_url: str | None = None) -> Settings:
    """A server with the test corpus and a fake model that answers in a few tokens."""
    fields: dict[str, Any] = {"database": {"url": database_url}} if database_url else {}
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        llm=LLMSettings(provider="fake", fake_tokens=3, fake_delay_ms=0),
        **fields,
    )
    ingest_paths_now(settings, [write_corpus(docs)])
    return settings


@pytest.fixture(scope="module")
def api_headers() -> dict[str, str]:
    """Headers every schemathesis request carries (none: the local mode needs no key)."""
    return {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def contract_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A live server on each database (the int64 offset and NUL bugs were on both)."""
    root = tmp_path_factory.mktemp("contract")
    url = asyncio.run(create_postgres_database()) if request.param == "postgresql" else None
    try:
        with serve_in_thread(contract_settings(root / "data", root / "docs", url)) as server:
            yield server.url
    finally:
        if url is not None:
            asyncio.run(drop_postgres_database(url))


def _published_spec() -> dict[str, Any]:
    # The document the live server publishes (same settings but the data folder), built
    # without a server so that pytest can collect one test per operation.
    settings = Settings(_env_file=None, llm=LLMSettings(provider="fake"))
    container = Container(settings=settings)
    try:
        return create_app(settings, container).openapi()
    finally:
        container.unwire()  # the live server's app wires the routers to its own container


schema = schemathesis.openapi.from_dict(_published_spec(), config=contract_config())


@schema.parametrize()
def test_every_answer_is_what_the_contract_says(
    case: schemathesis.Case[Any], contract_url: str, api_headers: dict[str, str]
) -> None:
    excluded: list[schemathesis.CheckFunction] = []
    if case.operation.label == _UPLOAD:
        excluded.append(openapi_checks.positive_data_acceptance)
    case.call_and_validate(base_url=contract_url, headers=api_headers, excluded_checks=excluded)


def test_stateful_sequences_follow_the_contract(
    contract_url: str, api_headers: dict[str, str]
) -> None:
    """Schemathesis chains calls through the spec's links (a run's, a session's or a
    document's id used by the next call): each answer of each sequence is checked as above."""
    violations: list[Exception] = []

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"base_url": contract_url, "headers": api_headers}

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case[Any],
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            excluded: list[schemathesis.CheckFunction] = [openapi_checks.positive_data_acceptance]
            try:
                case.validate_response(
                    response,
                    excluded_checks=excluded if case.operation.label == _UPLOAD else None,
                    transport_kwargs=kwargs,
                )
            except Exception as failure:
                violations.append(failure)
                raise

    # Hypothesis stops exploring when the server's state (what earlier sequences created) makes
    # a sequence generate differently on replay. That is no contract violation: those raise
    # from `validate_response`, and are reported below whatever Hypothesis made of them.
    with contextlib.suppress(hypothesis.errors.FlakyStrategyDefinition):
        Sequences.run(
            settings=hypothesis.settings(
                max_examples=MAX_EXAMPLES,
                stateful_step_count=6,
                deadline=None,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
        )
    if violations:
        raise violations[0]
