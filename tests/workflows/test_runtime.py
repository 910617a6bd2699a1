"""The workflow runtime: runs work as on the library's own, and keep no journal of their ticks
(the library's keeps every event and step result of a run in memory until the run ends)."""

from __future__ import annotations

import asyncio

from workflows import Context, Workflow, step
from workflows.events import Event, StartEvent, StopEvent
from workflows.plugins.basic import BasicRuntime

from app.workflows.runtime import UnjournaledRuntime


class Asked(StartEvent):
    question: str


class Found(Event):
    passages: list[str]


class TwoSteps(Workflow):
    @step
    async def find(self, ctx: Context, ev: Asked) -> Found:
        return Found(passages=[f"a passage about {ev.question}"] * 3)

    @step
    async def answer(self, ctx: Context, ev: Found) -> StopEvent:
        await asyncio.sleep(0.05)  # a journal reader is there while the run goes on
        return StopEvent(result=f"{len(ev.passages)} passages")


async def _run_and_read_the_journal(runtime: BasicRuntime) -> tuple[object, int]:
    handler = TwoSteps(runtime=runtime, timeout=10).run(start_event=Asked(question="cancel"))
    assert handler.run_id is not None
    records = [record async for record in runtime.journal(handler.run_id)]
    return await handler, len(records)


async def test_a_run_answers_as_on_the_library_runtime_and_keeps_no_journal() -> None:
    result, journaled = await _run_and_read_the_journal(UnjournaledRuntime())

    assert result == "3 passages"
    assert journaled == 0


async def test_the_library_runtime_keeps_every_tick_of_a_run() -> None:
    # What the runtime above saves: without it, the same run leaves a journal behind.
    result, journaled = await _run_and_read_the_journal(BasicRuntime())

    assert result == "3 passages"
    assert journaled > 4
