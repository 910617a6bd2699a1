"""How a run's events become the AI SDK's UI message stream, read back by the SDK's own parser
(tests/clients/ai_sdk_parse.mjs): the endings a live answer rarely shows — a failure midway, a
failure before the answer began, a cancel —, heartbeats between parts, and the media types of
sources."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest

from app.api.ai_sdk_parts import media_type_of, to_ui_message_stream
from app.api.event_stream import Heartbeat
from app.core.citations import Citation
from app.core.errors import LLMFailure, RunCancelled
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)
from tests.support.processes import output_of

NODE = shutil.which("node")
CLIENTS = Path(__file__).parents[1] / "clients"
needs_node = pytest.mark.skipif(
    (NODE is None or not (CLIENTS / "node_modules" / "ai").is_dir()) and not os.environ.get("CI"),
    reason="Node or the npm packages of tests/clients are missing (make node-packages)",
)

SESSION, MESSAGE, RUN = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
STARTED = AnswerStarted(session_id=SESSION, message_id=MESSAGE, run_id=RUN)


async def _batches(*events: AnswerEvent) -> AsyncGenerator[list[tuple[int, AnswerEvent]], None]:
    # The first two together, as a slow client gets events that piled up.
    yield [(1, events[0]), (2, events[1])] if len(events) > 1 else [(1, events[0])]
    for seq, event in enumerate(events[2:], start=3):
        yield [(seq, event)]


async def body_of(*events: AnswerEvent) -> bytes:
    return b"".join([frame async for frame in to_ui_message_stream(_batches(*events))])


async def parsed_by_the_sdk(body: bytes) -> Any:
    assert NODE is not None, "CI needs Node for the AI SDK tests"
    out = await output_of(NODE, "ai_sdk_parse.mjs", cwd=CLIENTS, stdin=body, timeout_s=60)
    return json.loads(out.strip().splitlines()[-1])


@needs_node
async def test_a_failure_midway_keeps_the_text_and_ends_with_an_error_part() -> None:
    failure = LLMFailure()
    body = await body_of(STARTED, AnswerDelta("Close the"), AnswerFailed(failure))
    assert body.endswith(b"data: [DONE]\n\n")
    # With the server's heartbeat between two frames, as a slow answer has them.
    first_frame = body.index(b"\n\n") + 2
    result = await parsed_by_the_sdk(body[:first_frame] + Heartbeat().encode() + body[first_frame:])
    assert "failure" not in result, result
    assert result["chunk_types"] == ["start", "text-start", "text-delta", "text-end", "error"]
    assert result["errors"] == [failure.message]
    assert result["message"]["id"] == str(MESSAGE)
    assert result["message"]["parts"] == [{"type": "text", "text": "Close the", "state": "done"}]


@needs_node
async def test_a_failure_before_the_answer_is_one_error_part() -> None:
    result = await parsed_by_the_sdk(await body_of(AnswerFailed(LLMFailure("Model down."))))
    assert result["chunk_types"] == ["error"]
    assert result["errors"] == ["Model down."]


@needs_node
async def test_a_cancelled_answer_ends_with_abort_not_an_error() -> None:
    body = await body_of(STARTED, AnswerDelta("Close"), AnswerFailed(RunCancelled()))
    result = await parsed_by_the_sdk(body)
    assert result["chunk_types"][-2:] == ["text-end", "abort"]
    assert result["errors"] == []
    assert result["message"]["metadata"] == {
        "session_id": str(SESSION),
        "message_id": str(MESSAGE),
        "run_id": str(RUN),
    }


@needs_node
async def test_an_answer_without_sources_still_sends_empty_citations() -> None:
    result = await parsed_by_the_sdk(await body_of(STARTED, AnswerSources([])))
    assert result["chunk_types"] == ["start", "text-start", "text-end", "data-citations", "finish"]
    [citations] = [p for p in result["message"]["parts"] if p["type"] == "data-citations"]
    assert citations["data"] == []


@needs_node
async def test_a_pdf_source_names_its_page() -> None:
    pdf = Citation(1, "n1", "travel.pdf", "d1", None, 2, None, "Meals…", 0.5, cited=True)
    result = await parsed_by_the_sdk(await body_of(STARTED, AnswerSources([pdf])))
    [document] = [p for p in result["message"]["parts"] if p["type"] == "source-document"]
    assert document == {
        "type": "source-document",
        "sourceId": f"{MESSAGE}:1",
        "mediaType": "application/pdf",
        "title": "travel.pdf",  # no title: the file name stands in (the SDK requires one)
        "filename": "travel.pdf",
    }
    [citations] = [p for p in result["message"]["parts"] if p["type"] == "data-citations"]
    assert citations["data"][0]["page"] == 2
    assert citations["data"][0]["source_id"] == document["sourceId"]


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("guide.md", "text/markdown"),
        ("Policy.PDF", "application/pdf"),
        ("page.html", "text/html"),
        ("notes.txt", "text/plain"),
        ("README", "text/plain"),
    ],
)
def test_media_types_come_from_file_names(name: str, media_type: str) -> None:
    assert media_type_of(name) == media_type
