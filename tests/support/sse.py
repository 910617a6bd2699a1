"""Reading SSE streams the way a client does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from httpx_sse import ServerSentEvent


@dataclass
class Received:
    event: str
    id: str
    data: Any


def decode(sse: ServerSentEvent) -> Received:
    return Received(event=sse.event, id=sse.id, data=json.loads(sse.data))


def answer_text(events: list[Received]) -> str:
    return "".join(e.data["delta"] for e in events if e.event == "message")
