"""The workflow runtime summarizes every event a step takes or returns (for tracing): the
passages an answer carries must not be written out in full for it, before every answer."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.schema import NodeWithScore, TextNode
from workflows._event_summary import summarize_event

from app.workflows.events import ChatRequested, Conversation, Passages, PassagesRetrieved


def _passage(text: str) -> NodeWithScore:
    return NodeWithScore(node=TextNode(text=text, metadata={"file_name": "a.pdf"}), score=1.0)


def test_a_retrieval_is_summarized_without_its_passages_text() -> None:
    passages = Passages(_passage(f"passage {n} " + "words " * 200) for n in range(3))
    event = PassagesRetrieved(standalone_question="Why?", passages=passages)

    summary = summarize_event(event)

    assert "words" not in summary
    assert "<3 passages>" in summary
    assert event.passages[0] is passages[0]  # the event holds the passages themselves


def test_a_follow_up_is_summarized_without_the_conversation_text() -> None:
    history = Conversation(
        ChatMessage(role="user", content="a long earlier question " * 20) for _ in range(2)
    )
    event = ChatRequested(question="And then?", history=history, collection="c")

    summary = summarize_event(event)

    assert "earlier question" not in summary
    assert "<2 messages>" in summary
