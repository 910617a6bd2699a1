"""Reading SSE streams the way a client does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from httpx_sse import EventSource, ServerSentEvent


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
