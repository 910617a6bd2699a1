"""Many answers at once on the embedded SQLite database: every answer that a client received
whole is saved, and no session stays locked afterwards."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from tests.conftest import MakeSettings
from tests.support.processes import worker_processes
from tests.support.sse import Received, answer_text, collect

STREAMS = 300


async def test_300_new_conversations_at_once_on_sqlite_are_all_saved(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings()  # the test corpus, in SQLite
    env = {
        "CITESTREAM_DATA_DIR": str(settings.data_dir),
        "CITESTREAM_DATABASE__URL": settings.database.url,
        "CITESTREAM_LLM__PROVIDER": "fake",
        "CITESTREAM_LLM__FAKE_TOKENS": "50",
        "CITESTREAM_LLM__FAKE_DELAY_MS": "20",
        "CITESTREAM_SERVER__LOG_LEVEL": "warning",
    }
    body = {"query": "How do I cancel a stream?"}
    limits = httpx.Limits(max_connections=STREAMS + 10)
    with worker_processes(1, env, tmp_path) as [server]:
        async with httpx.AsyncClient(base_url=server.url, timeout=300, limits=limits) as client:
            streams: list[list[Received]] = await asyncio.gather(
                *(collect(client, "POST", "/api/chat/stream", json=body) for _ in range(STREAMS))
            )
        log = server.output()

    endings = [events[-1] for events in streams]
    failed = [ending.data for ending in endings if ending.event == "error"]
    assert failed == []
    assert "Traceback" not in log
    database = settings.database.url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(database) as db:
        locked = db.execute(
            "SELECT count(*) FROM chat_sessions WHERE active_message_id IS NOT NULL"
        )
        answers = dict(
            db.execute("SELECT session_id, content FROM chat_messages WHERE role = 'assistant'")
        )
        statuses = {row[0] for row in db.execute("SELECT status FROM chat_messages")}
    assert locked.fetchone() == (0,)
    assert statuses == {"complete"}
    assert len(answers) == STREAMS
    for events in streams:
        session_hex = events[0].data["session_id"].replace("-", "")
        assert answers[session_hex] == answer_text(events)
