"""Follow-up questions are condensed with the conversation, as CondenseQuestionChatEngine does."""

from __future__ import annotations

from httpx_sse import aconnect_sse

from app.container import Container
from app.memory.messages import INTERRUPTED_MARKER
from tests.conftest import MakeSettings
from tests.support.llms import CONDENSE_MARKER, ScriptedLLM
from tests.support.server import serve
from tests.support.sse import decode


async def test_follow_up_is_condensed_with_the_history_before_retrieval(
    make_settings: MakeSettings,
) -> None:
    llm = ScriptedLLM(
        answer="Close the connection [1].",
        condensed="How often does the server send a heartbeat?",
        prompts=[],
    )
    async with (
        serve(make_settings(), llm=llm) as server,
        server.client() as client,
    ):
        first = (await client.post("/api/chat", json={"query": "How do I cancel a stream?"})).json()
        # Alone, "How often?" matches nothing; condensed with the history it finds heartbeats.md.
        second = (
            await client.post(
                "/api/chat", json={"query": "How often?", "session_id": first["session_id"]}
            )
        ).json()

    assert len(llm.prompts) == 3  # answer, condense, answer: no condense on a first question
    assert "chunk_id" not in llm.prompts[0]  # citation bookkeeping stays out of the prompt
    condense_prompt = llm.prompts[1]
    assert CONDENSE_MARKER in condense_prompt
    assert "How do I cancel a stream?" in condense_prompt
    assert "Close the connection [1]." in condense_prompt
    assert "How often?" in condense_prompt
    assert "How often does the server send a heartbeat?" in llm.prompts[2]
    assert second["session_id"] == first["session_id"]
    assert second["sources"][0]["document"] == "heartbeats.md"


async def test_interrupted_answer_is_shown_to_the_next_condense_step_as_interrupted(
    make_settings: MakeSettings,
) -> None:
    llm = ScriptedLLM(
        answer="To cancel a stream close the connection and the server stops [1].",
        delay_s=0.05,
        prompts=[],
    )
    async with (
        serve(make_settings(), llm=llm) as server,
        server.client() as client,
    ):
        async with aconnect_sse(
            client, "POST", "/api/chat/stream", json={"query": "How do I cancel a stream?"}
        ) as source:
            seen = []
            async for sse in source.aiter_sse():
                seen.append(decode(sse))
                if len(seen) == 3:  # meta and two words
                    break
        session_id = seen[0].data["session_id"]
        await server.wait_for_metric("citestream_active_streams", 0)
        await client.post("/api/chat", json={"query": "Go on?", "session_id": session_id})

    condense_prompt = llm.prompts[1]
    [line] = [line for line in condense_prompt.splitlines() if line.startswith("assistant: ")]
    assert line.endswith(INTERRUPTED_MARKER)
    partial = line.removeprefix("assistant: ").removesuffix(INTERRUPTED_MARKER)
    # What the user saw before leaving, not the answer the model would have finished.
    assert partial.startswith("To cancel")
    assert llm.answer.startswith(partial.rstrip())
    assert len(partial) < len(llm.answer)


async def test_condensing_stops_the_model_at_the_end_of_the_rewritten_question(
    make_settings: MakeSettings,
) -> None:
    chatter = " ".join(["chatter"] * 50)
    container = Container(settings=make_settings())
    llm = ScriptedLLM(
        on_tokens=container.metrics().llm_tokens.inc,
        answer="Every fifteen seconds [1].",
        condensed=f"How often does the server send a heartbeat?\nSure! {chatter}",
        prompts=[],
    )
    async with (
        serve(container.settings(), container, llm=llm) as server,
        server.client() as client,
    ):
        first = (await client.post("/api/chat", json={"query": "Tell me about heartbeats"})).json()
        before = await server.metric("citestream_llm_tokens_total")
        second = (
            await client.post(
                "/api/chat", json={"query": "How often?", "session_id": first["session_id"]}
            )
        ).json()
        produced = await server.metric("citestream_llm_tokens_total") - before

    assert "How often does the server send a heartbeat?" in llm.prompts[2]
    assert "chatter" not in llm.prompts[2]
    # 8 words up to the line break, then the 4-word answer; none of the 50 words of chatter.
    assert produced == 8 + 4
    assert second["sources"][0]["document"] == "heartbeats.md"
