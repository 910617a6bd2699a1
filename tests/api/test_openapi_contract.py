"""Schemathesis against a live server: whatever it sends, every answer is what /openapi.json
says (status, content type, body and headers), and none is a server error.

Examples, coverage and fuzzing phases with schemathesis's checks, on a budget that keeps the
whole module to a few minutes on a 2-core machine. `api_headers` is the seam for credentials:
override it (e.g. `{"Authorization": "Bearer ..."}`) to run the same contract as a caller.

Then two keys on a server of their own: a stateful run as the first key (on top of a document,
a conversation and a run it made), each call replayed by the second key, which must get 404 for
anything naming the first key's things and lists without them; and a sweep of every route with
an id in its path, as the second key, over every id of the first key's.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.core import NotSet
from schemathesis.specs.openapi import checks as openapi_checks

from app.container import Container
from app.core.settings import AdmissionSettings, LLMSettings, Settings
from app.lifecycle import running_container
from app.main import create_app
from tests.support.corpus import write_corpus
from tests.support.keys import bearer, create_key
from tests.support.knowledge import ingest_paths_now
from tests.support.services import create_postgres_database, drop_postgres_database
from tests.support.threaded_server import serve_in_thread

pytestmark = pytest.mark.contract

# Per operation and phase; with ~20 operations this is the budget of the whole module.
MAX_EXAMPLES = 40
# Content the schema cannot express (a file's bytes must be UTF-8 text or a PDF, and two files
# of one upload may not share a name) makes valid-looking uploads fail with 422 or 415.
_UPLOAD = "POST /api/documents"
# Rules a schema cannot express make valid-looking requests fail: the question is the text
# of the *last* user message, which no schema can single out (AG-UI's own RunAgentInput and the
# AI SDK's chat: 422; OpenAI's chat completions: 400), and AG-UI's threadId may not be blank.
_SCHEMA_SAYS_LESS = {
    _UPLOAD,
    "POST /api/ag-ui",
    "POST /api/ai-sdk/chat",
    "POST /v1/chat/completions",
}


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


SPEC = _published_spec()
schema = schemathesis.openapi.from_dict(SPEC, config=contract_config())


@schema.parametrize()
def test_every_answer_is_what_the_contract_says(
    case: schemathesis.Case[Any], contract_url: str, api_headers: dict[str, str]
) -> None:
    excluded: list[schemathesis.CheckFunction] = []
    if case.operation.label in _SCHEMA_SAYS_LESS:
        excluded.append(openapi_checks.positive_data_acceptance)
    case.call_and_validate(base_url=contract_url, headers=api_headers, excluded_checks=excluded)


def _validate_recording(
    case: schemathesis.Case[Any],
    response: Any,
    transport_kwargs: dict[str, Any],
    violations: list[Exception],
) -> None:
    """Check one answer of a stateful sequence against the contract, keeping any violation so
    it is reported whatever Hypothesis makes of the sequence afterwards."""
    excluded: list[schemathesis.CheckFunction] = [openapi_checks.positive_data_acceptance]
    try:
        case.validate_response(
            response,
            excluded_checks=excluded if case.operation.label in _SCHEMA_SAYS_LESS else None,
            transport_kwargs=transport_kwargs,
        )
    except Exception as failure:
        violations.append(failure)
        raise


def _run_sequences(machine: Any, max_examples: int) -> None:
    """Run a schemathesis state machine within the suite's budget. Hypothesis stops exploring
    when the server's state (what earlier sequences created) makes a sequence generate
    differently on replay; that is no contract violation (those are recorded by
    `_validate_recording`), so it is not an error here."""
    with contextlib.suppress(hypothesis.errors.FlakyStrategyDefinition):
        machine.run(
            settings=hypothesis.settings(
                max_examples=max_examples,
                stateful_step_count=6,
                deadline=None,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
        )


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
            _validate_recording(case, response, kwargs, violations)

    _run_sequences(Sequences, MAX_EXAMPLES)
    if violations:
        raise violations[0]


# -- two keys: a stateful run as one key, replayed by another --------------------------------

UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Ids an answer names: by their field, or as a listed item's `id` under the route it came from.
_NAMED_ID = re.compile(rf'"(session_id|run_id|document_id)":\s*"({UUID_PATTERN})"')
_BARE_ID = re.compile(rf'"id":\s*"({UUID_PATTERN})"')
_COLLECTION = re.compile(r'"collection":\s*"([A-Za-z0-9_.-]+)"')
_ID_OF_ROUTE = {
    "/api/sessions": "session_id",
    "/api/runs": "run_id",
    "/api/documents": "document_id",
}
# Calls that change what they name: the second key tries them before the owner does, while
# the owner's thing still exists (afterwards a 404 would prove nothing).
_DESTRUCTIVE = {"DELETE", "POST /api/runs/{run_id}/cancel"}
OWNED_COLLECTION = "owner-docs"
OWNED_DOCUMENT = ("owned.txt", b"Penguins eat krill and fish.\n")
OWNED_TITLE = "Penguin notes"
# The two-key run's own budget: one server (SQLite), a short stateful run, then the sweep.
TWO_KEY_EXAMPLES = 60


@dataclass
class OwnerState:
    """What the first key has seen of its own: ids by kind, and its collections' names."""

    ids: dict[str, set[str]] = field(
        default_factory=lambda: {k: set() for k in _ID_OF_ROUTE.values()}
    )
    collections: set[str] = field(default_factory=lambda: {OWNED_COLLECTION})

    def all_ids(self) -> set[str]:
        return set().union(*self.ids.values())

    def learn(self, case: schemathesis.Case[Any], text: str) -> None:
        """Remember the ids and collections in one of the owner's successful answers."""
        for kind, value in _NAMED_ID.findall(text):
            self.ids[kind].add(value)
        kind_of_route = next(
            (kind for prefix, kind in _ID_OF_ROUTE.items() if case.path.startswith(prefix)), None
        )
        if kind_of_route is not None:
            self.ids[kind_of_route].update(_BARE_ID.findall(text))
        for name, value in (case.path_parameters or {}).items():
            if name in self.ids and isinstance(value, str):
                self.ids[name].add(value)
        if case.operation.label == _UPLOAD:  # where a collection gets its owner
            self.collections.update(_COLLECTION.findall(text))

    def named_in(self, case: schemathesis.Case[Any]) -> bool:
        """Whether a call names anything of the owner's (in its path, query or body)."""
        owned = self.all_ids() | self.collections
        return any(
            value in owned
            for part in (case.path_parameters, case.query, case.body)
            for value in _strings(part)
        )

    def leaked_into(self, text: str) -> set[str]:
        """The owner's ids (or collections) that an answer to the other key shows."""
        shown = set(re.findall(UUID_PATTERN, text)) | set(_COLLECTION.findall(text))
        return shown & (self.all_ids() | self.collections)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _is_list(case: schemathesis.Case[Any]) -> bool:
    return case.method.upper() == "GET" and "{" not in case.path and case.path.startswith("/api/")


def _is_destructive(case: schemathesis.Case[Any]) -> bool:
    label = f"{case.method.upper()} {case.path}"
    return case.method.upper() in _DESTRUCTIVE or label in _DESTRUCTIVE


def _new_keys(settings: Settings) -> tuple[str, str]:
    async def create() -> tuple[str, str]:
        async with running_container(settings) as container:
            return await create_key(container, "owner"), await create_key(container, "other")

    return asyncio.run(create())


def _make_owned(url: str, owner: dict[str, str], state: OwnerState) -> tuple[str, str, str]:
    """A document, a renamed conversation and a finished run of the owner's, whatever the
    stateful run explores: their ids (session, run, document)."""
    with httpx.Client(base_url=url, headers=owner, timeout=60) as client:
        upload = client.post(
            "/api/documents",
            files=[("files", OWNED_DOCUMENT)],
            data={"collection": OWNED_COLLECTION},
        )
        assert upload.status_code in (200, 201), upload.text
        chat = client.post("/api/chat", json={"query": "Penguins?", "collection": OWNED_COLLECTION})
        assert chat.status_code == 200, chat.text
        session_id = chat.json()["session_id"]
        renamed = client.patch(f"/api/sessions/{session_id}", json={"title": OWNED_TITLE})
        assert renamed.status_code == 200, renamed.text
        started = client.post(
            "/api/runs", json={"query": "And fish?", "session_id": session_id, "background": True}
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        while client.get(f"/api/runs/{run_id}").json()["status"] == "running":
            time.sleep(0.01)
    document_id = upload.json()["documents"][0]["document"]["id"]
    state.ids["document_id"].add(document_id)
    state.ids["run_id"].add(run_id)
    state.ids["session_id"].add(session_id)
    return session_id, run_id, document_id


@pytest.fixture(scope="module")
def two_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A live server (SQLite) with two keys and no admission limits: its URL and both keys."""
    root = tmp_path_factory.mktemp("two-keys")
    settings = contract_settings(root / "data", root / "docs")
    settings.admission = AdmissionSettings(
        concurrent_runs=0, work_per_minute=0, requests_per_minute=0
    )
    owner, other = _new_keys(settings)
    with serve_in_thread(settings) as server:
        yield server.url, owner, other


def test_a_stateful_run_as_one_key_shows_nothing_of_it_to_another(
    two_keys: tuple[str, str, str],
) -> None:
    """The owner's stateful run, replayed by another key call by call: every call that names
    the owner's session, run, document or collection is a 404 to the other key, and its lists
    show none of them; then the other key tries every route with an id on each of the owner's."""
    url, owner_key, other_key = two_keys
    owner, other = bearer(owner_key), bearer(other_key)
    state = OwnerState()
    _make_owned(url, owner, state)
    violations: list[Exception] = []
    leaks: list[str] = []
    replayed: list[str] = []

    def replay(case: schemathesis.Case[Any]) -> None:
        """The other key makes the owner's call: 404 if it names the owner's things; a list
        without them otherwise."""
        body = "" if isinstance(case.body, NotSet) else f" {case.body!r:.80}"
        label = f"{case.method.upper()} {case.formatted_path} {case.query or ''}{body}"
        if _is_list(case):
            response = case.call(base_url=url, headers=other)
            shown = state.leaked_into(response.text) if response.status_code < 300 else set()
            if response.status_code >= 500 or shown:
                leaks.append(f"{label} -> {response.status_code}, shows {sorted(shown)}")
        elif state.named_in(case):
            response = case.call(base_url=url, headers=other)
            if response.status_code != 404:
                leaks.append(f"{label} -> {response.status_code}: {response.text[:200]}")
        else:
            return
        replayed.append(case.operation.label)

    class OwnerSequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"base_url": url, "headers": owner}

        def before_call(self, case: schemathesis.Case[Any]) -> None:
            if _is_destructive(case):
                replay(case)

        def after_call(self, response: Any, case: schemathesis.Case[Any]) -> None:
            if 200 <= response.status_code < 300:
                state.learn(case, response.text)
                if not _is_destructive(case):
                    replay(case)

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case[Any],
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            _validate_recording(case, response, kwargs, violations)

    _run_sequences(OwnerSequences, TWO_KEY_EXAMPLES)
    # Fresh things of the owner's, sure to exist while the other key tries them.
    session_id, run_id, document_id = _make_owned(url, owner, state)
    swept = _sweep(url, other, state, leaks)
    with httpx.Client(base_url=url, headers=owner, timeout=60) as client:
        session = client.get(f"/api/sessions/{session_id}")
        run = client.get(f"/api/runs/{run_id}")
        document = client.get(f"/api/documents/{document_id}")

    assert not leaks, "\n".join(leaks)
    if violations:
        raise violations[0]
    # Nothing the other key tried changed the owner's things.
    assert (session.status_code, run.status_code, document.status_code) == (200, 200, 200)
    assert session.json()["title"] == OWNED_TITLE
    assert run.json()["status"] == "completed"
    # Not vacuous: the run reached the owner's things, and the sweep tried each kind of them.
    assert replayed
    assert swept >= 20


def _sweep(url: str, other: dict[str, str], state: OwnerState, leaks: list[str]) -> int:
    """The other key calls every route with an id in its path, on each of the owner's ids of
    that kind; each is a 404. Then it lists everything and sees none of the owner's things."""
    routes = [
        (method.upper(), path, kind)
        for path, operations in SPEC["paths"].items()
        for method in operations
        for kind in state.ids
        if "{" + kind + "}" in path
    ]
    tried = 0
    with httpx.Client(base_url=url, headers=other, timeout=60) as client:
        for method, path, kind in routes:
            for owned in sorted(state.ids[kind]):
                body = {"title": "Taken over"} if method == "PATCH" else None
                response = client.request(method, path.replace("{" + kind + "}", owned), json=body)
                tried += 1
                if response.status_code != 404:
                    leaks.append(f"{method} {path} [{owned}] -> {response.status_code}")
        for kind, owned, method, path, request in _naming_calls(state):
            response = client.request(method, path, **request)
            tried += 1
            if response.status_code != 404:
                leaks.append(f"{method} {path} {kind}={owned} -> {response.status_code}")
        # `GET /api/runs` lists one session's runs: it needs a session id.
        lists: list[tuple[str, dict[str, str]]] = [
            (path, {}) for path in ("/api/sessions", "/api/documents", "/api/collections")
        ]
        lists += [("/api/runs", {"session_id": owned}) for owned in state.ids["session_id"]]
        lists += [("/api/documents", {"collection": owned}) for owned in state.collections]
        for path, params in lists:
            response = client.get(path, params=params)
            tried += 1
            shown = state.leaked_into(response.text) if response.status_code < 300 else set()
            if response.status_code not in (200, 404) or shown:
                leaks.append(f"GET {path} {params} -> {response.status_code}, shows {shown}")
    return tried


def _naming_calls(state: OwnerState) -> Iterator[tuple[str, str, str, str, dict[str, Any]]]:
    """Calls that name the owner's session, run or collection in their body or query."""
    question = {"query": "What do penguins eat?"}
    for session_id in sorted(state.ids["session_id"]):
        asked = {**question, "session_id": session_id}
        yield "session_id", session_id, "POST", "/api/chat", {"json": asked}
        yield "session_id", session_id, "POST", "/api/chat/stream", {"json": asked}
        yield "session_id", session_id, "GET", "/api/chat/stream", {"params": asked}
        yield "session_id", session_id, "POST", "/api/runs", {"json": asked}
        yield (
            "session_id",
            session_id,
            "POST",
            "/api/stream-tokens",
            {"json": {"session_id": session_id}},
        )
    for run_id in sorted(state.ids["run_id"]):
        yield "run_id", run_id, "POST", "/api/stream-tokens", {"json": {"run_id": run_id}}
    for collection in sorted(state.collections):
        asked = {**question, "collection": collection}
        yield "collection", collection, "POST", "/api/chat", {"json": asked}
        yield "collection", collection, "POST", "/api/runs", {"json": asked}
        upload = {"files": [("files", ("intruder.txt", b"Written by someone else.\n"))]}
        yield (
            "collection",
            collection,
            "POST",
            "/api/documents",
            {**upload, "data": {"collection": collection}},
        )
