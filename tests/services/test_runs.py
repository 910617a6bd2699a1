"""The run service's ways in for clients that name their chats or send their own history."""

from __future__ import annotations

import asyncio
import gc
import uuid
import weakref

import pytest

from app.core.errors import NotFound
from app.core.principals import LOCAL_PRINCIPAL
from app.memory.messages import HistoryMessage, MessageRole
from tests.conftest import MakeSettings
from tests.support.llms import CONDENSE_MARKER, ScriptedLLM
from tests.support.server import serve
from tests.support.stored import stored_messages


async def test_a_chat_named_by_its_client_is_created_under_that_id_then_continued(
    make_settings: MakeSettings,
) -> None:
    chat = uuid.uuid4()
    async with serve(make_settings(llm={"fake_tokens": 8})) as server:
        runs = server.container.run_service()
        with pytest.raises(NotFound):  # without create_missing, an unknown id is an error
            await runs.start("How do I cancel a stream?", chat, principal=LOCAL_PRINCIPAL)
        first = await runs.start(
            "How do I cancel a stream?", chat, create_missing=True, principal=LOCAL_PRINCIPAL
        )
        await (await runs.follow(first.run_id, principal=LOCAL_PRINCIPAL)).aclose()
        while (await runs.status(first.run_id, LOCAL_PRINCIPAL)).status == "running":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        second = await runs.start(
            "And heartbeats?", chat, create_missing=True, principal=LOCAL_PRINCIPAL
        )
        async for _ in await runs.follow(second.run_id, principal=LOCAL_PRINCIPAL):
            pass
        messages = await stored_messages(server.container.database(), chat)
    assert first.session_id == second.session_id == chat
    assert [m.content for m in messages if m.role == MessageRole.USER] == [
        "How do I cancel a stream?",
        "And heartbeats?",
    ]


async def test_history_sent_by_the_caller_is_what_the_follow_up_is_condensed_with(
    make_settings: MakeSettings,
) -> None:
    llm = ScriptedLLM(
        answer="Close it [1].", condensed="How often are heartbeats sent?", prompts=[]
    )
    history = [
        HistoryMessage(MessageRole.USER, "Tell me about heartbeats in Citestream."),
        HistoryMessage(MessageRole.ASSISTANT, "They keep idle streams open."),
    ]
    async with serve(make_settings(), llm=llm) as server:
        runs = server.container.run_service()
        run = await runs.start("How often?", None, history=history, principal=LOCAL_PRINCIPAL)
        async for _ in await runs.follow(run.run_id, principal=LOCAL_PRINCIPAL):
            pass
    condense = next(prompt for prompt in llm.prompts if CONDENSE_MARKER in prompt)
    assert "Tell me about heartbeats in Citestream." in condense
    assert "How often?" in condense


async def test_an_ended_run_stays_replayable_without_keeping_its_task(
    make_settings: MakeSettings,
) -> None:
    async with serve(make_settings(llm={"fake_tokens": 8})) as server:
        runs = server.container.run_service()
        run = await runs.start("How do I cancel a stream?", None, principal=LOCAL_PRINCIPAL)
        (task,) = [t for t in asyncio.all_tasks() if t.get_name() == f"run {run.run_id}"]
        ended = weakref.ref(task)
        del task
        live = [
            event
            async for batch in await runs.follow(run.run_id, principal=LOCAL_PRINCIPAL)
            for event in batch
        ]
        finishing = ended()
        if finishing is not None:  # its last steps come after the final event
            await asyncio.wait([finishing])
            del finishing
        assert (await runs.status(run.run_id, LOCAL_PRINCIPAL)).status == "completed"
        gc.collect()
        # Kept for minutes per run, so nothing of its execution is: only its record and events.
        assert ended() is None
        replayed = [
            event
            async for batch in await runs.follow(run.run_id, principal=LOCAL_PRINCIPAL)
            for event in batch
        ]
        assert replayed == live
