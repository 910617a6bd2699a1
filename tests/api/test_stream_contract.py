"""What the server sends is what /openapi.json says: every event of real streams, and the JSON
answers, validated against the published schemas (JSON Schema 2020-12, as OpenAPI 3.1 uses)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conftest import MakeSettings
from tests.support.llms import BrokenLLM
from tests.support.server import serve

SPEC = "urn:citestream:openapi"


def _validator(spec: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` in the spec, whose $refs resolve in the spec."""
    registry: Registry[Any] = Registry().with_resource(
        SPEC, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{SPEC}#{pointer}"}, registry=registry)


_DRAFT = (
    Draft202012Validator.META_SCHEMA
    and __import__("referencing.jsonschema", fromlist=["DRAFT202012"]).DRAFT202012
)


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


async def _events(client: httpx.AsyncClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A stream's events as an SSE parser hands them over: `data` is the JSON text."""
    async with aconnect_sse(client, "POST", "/api/chat/stream", json=body) as source:
        return [
            {"event": sse.event, "id": sse.id, "data": sse.data} async for sse in source.aiter_sse()
        ]


_EVENT_SCHEMAS = {
    "meta": "MetaEvent",
    "message": "MessageEvent",
    "source": "SourceEvent",
    "error": "ErrorEvent",
}


def _data(spec: dict[str, Any], event: str) -> Draft202012Validator:
    """The validator of an event's `data`, once parsed (its `contentSchema`)."""
    name = _EVENT_SCHEMAS[event]
    return _validator(spec, f"/components/schemas/{name}/properties/data/contentSchema")


async def test_every_event_of_real_streams_matches_the_published_schema(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 12})) as server,
        server.client() as client,
    ):
        spec = (await client.get("/openapi.json")).json()
        answered = await _events(client, {"query": "How do I cancel a stream?"})
        nothing_found = await _events(client, {"query": "xylophone quasar zeppelin"})
    async with (
        serve(make_settings(), llm=BrokenLLM(good_tokens=2)) as server,
        server.client() as client,
    ):
        failed = await _events(client, {"query": "How do I cancel a stream?"})

    # OpenAPI 3.2's `itemSchema` describes one event of the stream, as FastAPI's own SSE does.
    stream = _validator(
        spec,
        f"/paths/{_escape('/api/chat/stream')}/post/responses/200/content/"
        f"{_escape('text/event-stream')}/itemSchema",
    )
    kinds: set[str] = set()
    for events in (answered, nothing_found, failed):
        for event in events:
            stream.validate(event)
            _data(spec, event["event"]).validate(json.loads(event["data"]))
            kinds.add(event["event"])
    assert kinds == {"meta", "message", "source", "error"}
    # And the schemas are not so loose that anything passes.
    assert not stream.is_valid({"event": "message", "id": "2", "data": {"delta": "x"}})
    assert not stream.is_valid({"event": "ping", "id": "2", "data": "{}"})
    assert not _data(spec, "message").is_valid({"text": "x"})
    assert not _data(spec, "source").is_valid([{"index": 1}])


async def test_json_answers_and_problems_match_the_published_schemas(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(llm={"fake_tokens": 8})) as server,
        server.client() as client,
    ):
        spec = (await client.get("/openapi.json")).json()
        answer = await client.post("/api/chat", json={"query": "How do I cancel a stream?"})
        invalid = await client.post("/api/chat", json={"query": "   "})

    chat = f"/paths/{_escape('/api/chat')}/post/responses"
    _validator(spec, f"{chat}/200/content/{_escape('application/json')}/schema").validate(
        answer.json()
    )
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    _validator(spec, f"{chat}/422/content/{_escape('application/problem+json')}/schema").validate(
        invalid.json()
    )
