"""Reading SSE streams the way a client does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent, aconnect_sse


@dataclass
class Received:
    event: str
    id: str
    data: Any


def decode(sse: ServerSentEvent) -> Received:
    return Received(event=sse.event, id=sse.id, data=json.loads(sse.data))


def answer_text(events: list[Received]) -> str:
    return "".join(e.data["delta"] for e in events if e.event == "message")


async def read_messages(source: EventSource, count: int) -> None:
    """Read until `count` `message` events have arrived, then stop reading (still connected)."""
    messages = 0
    async for sse in source.aiter_sse():
        messages += sse.event == "message"
        if messages == count:
            return


async def collect(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    stop_after: int | None = None,
    **kwargs: Any,
) -> list[Received]:
    """Every event of a stream (or the first `stop_after`, then leave)."""
    received: list[Received] = []
    async with aconnect_sse(client, method, url, **kwargs) as source:
        async for sse in source.aiter_sse():
            received.append(decode(sse))
            if stop_after is not None and len(received) >= stop_after:
                break
    return received


def sequence_numbers(events: list[Received]) -> list[int]:
    """The events' numbers in their run, from ids `n` or `<run_id>:n`."""
    return [int(event.id.rpartition(":")[2]) for event in events]
