"""An AG-UI client for tests: a RunAgentInput as clients send it, and a run's events, each parsed
by the `ag_ui.core` models."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from ag_ui.core import CustomEvent, Event, TextMessageContentEvent
from httpx_sse import aconnect_sse
from pydantic import TypeAdapter

EVENTS: TypeAdapter[Event] = TypeAdapter(Event)
QUESTION = "How do I cancel a stream?"


def run_input(thread_id: str, text: str = QUESTION, **extra: Any) -> dict[str, Any]:
    """A RunAgentInput as an AG-UI client sends it: the whole thread, the new question last."""
    return {
        "threadId": thread_id,
        "runId": f"run-{uuid.uuid4()}",
        "state": {},
        "messages": [
            {"id": "m1", "role": "user", "content": "An earlier question, not ours to read"},
            {"id": "m2", "role": "assistant", "content": "An earlier answer"},
            {"id": "m3", "role": "user", "content": text},
        ],
        "tools": [],
        "context": [],
        "forwardedProps": {},
        **extra,
    }


async def run_events(
    client: httpx.AsyncClient, body: dict[str, Any], *, stop_after: int | None = None
) -> tuple[httpx.Response, list[Event]]:
    """Every event of a run, each validated by the AG-UI models (or the first `stop_after`)."""
    events: list[Event] = []
    async with aconnect_sse(client, "POST", "/api/ag-ui", json=body) as source:
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            events.append(EVENTS.validate_json(sse.data))
            if stop_after is not None and len(events) >= stop_after:
                break
    return source.response, events


def text_of(events: list[Event]) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextMessageContentEvent))


def custom(events: list[Event], name: str) -> Any:
    (value,) = [e.value for e in events if isinstance(e, CustomEvent) and e.name == name]
    return value
