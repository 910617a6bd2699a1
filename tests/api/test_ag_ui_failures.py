"""A model that fails mid-answer, seen by an AG-UI client: the message it started is ended, then
the run, with RUN_ERROR and our error code. (Its own module: one live server per process at a
time, and this one has a broken model.)"""

from __future__ import annotations

import uuid

from ag_ui.core import EventType, RunErrorEvent, RunFinishedEvent

from tests.conftest import MakeSettings
from tests.support.ag_ui import run_events, run_input, text_of
from tests.support.llms import BrokenLLM
from tests.support.server import serve


async def test_a_model_failure_ends_the_message_then_the_run_with_an_error(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(), llm=BrokenLLM(good_tokens=3)) as server,
        server.client() as client,
    ):
        _, events = await run_events(client, run_input(f"thread-{uuid.uuid4()}"))

    assert [e.type for e in events[-2:]] == [EventType.TEXT_MESSAGE_END, EventType.RUN_ERROR]
    error = events[-1]
    assert isinstance(error, RunErrorEvent)
    assert (error.code, error.message) == (
        "llm_error",
        "The language model failed while answering.",
    )
    assert text_of(events) == "token0 token1 token2 "
    assert not any(isinstance(e, RunFinishedEvent) for e in events)
