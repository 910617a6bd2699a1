"""The floor: a bare sse-starlette stream sending the same events as an answer (a `meta`, one
`message` per token, a `source`) with no work behind them. `bench/streaming.py` measures it in
the same run as Citestream, so that ratios, not absolute times, are compared.

Run: `uvicorn bench.floor:app --port 8099`; `GET /stream?tokens=2000&delay_ms=0`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

_WORDS = ["Citestream", " streams", " each", " token", " of", " the", " answer", " [1]"]


async def _events(tokens: int, delay_s: float) -> AsyncIterator[ServerSentEvent]:
    meta = {"session_id": str(uuid.uuid4()), "message_id": str(uuid.uuid4())}
    yield ServerSentEvent(data=json.dumps(meta), event="meta", id="1")
    for position in range(tokens):
        await asyncio.sleep(delay_s)
        delta = _WORDS[position % len(_WORDS)]
        yield ServerSentEvent(
            data=json.dumps({"delta": delta}), event="message", id=str(position + 2)
        )
    yield ServerSentEvent(data="[]", event="source", id=str(tokens + 2))


async def stream(request: Request) -> EventSourceResponse:
    tokens = int(request.query_params.get("tokens", "64"))
    delay_s = float(request.query_params.get("delay_ms", "0")) / 1000
    return EventSourceResponse(_events(tokens, delay_s), send_timeout=30)


app = Starlette(routes=[Route("/stream", stream)])
