"""Files read in processes of their own: the same result as in this process, refusals carried
back with their reason, and a parse that can always be stopped."""

from __future__ import annotations

import asyncio

import pytest

from app.core.errors import CitestreamError
from app.core.settings import IngestionSettings, LimitsSettings
from app.ingestion.isolation import IsolatedParser
from app.ingestion.parser import DocumentParser
from tests.support.pdfs import pdf_bytes, shared_stream_pdf

SETTINGS = IngestionSettings(chunk_size=64, chunk_overlap=8)
MARKDOWN = b"# Harbour\n\n## Tides\n\n" + b"The tide turns twice a day at the quay. " * 40


async def test_a_file_read_in_a_child_process_is_what_this_process_makes_of_it() -> None:
    isolated = IsolatedParser(SETTINGS, LimitsSettings())
    local = DocumentParser(SETTINGS)
    pdf = pdf_bytes(["First page about tides.", "Second page about boats."], title="Log")

    for name, data in (("harbour.md", MARKDOWN), ("log.pdf", pdf)):
        assert await isolated.parse(name, data) == local.parse(name, data)
    assert isolated.running == 0


async def test_a_refusal_in_the_child_keeps_its_code_message_and_reason() -> None:
    isolated = IsolatedParser(SETTINGS, LimitsSettings())

    with pytest.raises(CitestreamError) as caught:
        await isolated.parse("empty.md", b"   \n")

    assert (caught.value.status, caught.value.code) == (422, "invalid_input")
    assert caught.value.message == "empty.md: the file is empty"
    assert getattr(caught.value, "reason", None) == "the file is empty"


async def test_closing_kills_a_parse_in_flight() -> None:
    isolated = IsolatedParser(SETTINGS, LimitsSettings(parse_cpu_s=3600, parse_wall_s=3600))
    parsing = asyncio.create_task(isolated.parse("shared.pdf", shared_stream_pdf(pages=20)))
    async with asyncio.timeout(60):
        while isolated.running == 0:  # noqa: ASYNC110 - polling a process count
            await asyncio.sleep(0.02)

    await isolated.aclose()

    with pytest.raises(CitestreamError) as caught:
        await asyncio.wait_for(parsing, 60)
    assert (caught.value.status, caught.value.code) == (503, "shutting_down")
    assert isolated.running == 0
