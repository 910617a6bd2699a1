"""examples/streamlit_chat.py run by Streamlit's AppTest against a live server (in a thread of
its own: AppTest runs the script synchronously, and the script's blocking httpx calls must not
stall the server's loop): the answer as stored, its cited sources in the expander, a follow-up
in the same conversation, and a refusal shown as the problem's `detail`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from app.core.settings import LLMSettings, Settings
from examples.streamlit_chat import CitestreamError, without_footer
from tests.support.corpus import write_corpus
from tests.support.knowledge import ingest_paths_now
from tests.support.server import LiveServer
from tests.support.threaded_server import serve_in_thread

SCRIPT = Path(__file__).parents[2] / "examples" / "streamlit_chat.py"
QUESTION = "How do I cancel a stream?"
# A whole script run: the question, the streamed answer and the sources' request.
RUN_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("streamlit")
    settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        llm=LLMSettings(provider="fake", fake_tokens=16, fake_delay_ms=2),
    )
    ingest_paths_now(settings, [write_corpus(root / "docs")])
    with serve_in_thread(settings) as live:
        yield live


@pytest.fixture
def app(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CITESTREAM_URL", server.url)
    app = AppTest.from_file(str(SCRIPT), default_timeout=RUN_TIMEOUT_S)
    return app.run()


def stored_session(server: LiveServer, session_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/sessions/{session_id}", timeout=30)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def markdown_of(element: Any) -> list[str]:
    return [markdown.value for markdown in element.markdown]


def test_the_answer_streams_in_with_its_cited_sources(server: LiveServer, app: AppTest) -> None:
    app.chat_input[0].set_value(QUESTION).run()

    assert not app.exception
    assert not app.error
    session = stored_session(server, app.session_state["session_id"])
    question, answer = session["messages"]["items"]
    user, assistant = app.chat_message
    assert (user.name, assistant.name) == ("user", "assistant")
    assert markdown_of(user) == [question["content"]] == [QUESTION]
    # The page shows the stored answer, without the plain-text stream's "Sources:" footer.
    assert markdown_of(assistant)[0] == answer["content"]
    assert "Sources:" not in markdown_of(assistant)[0]
    cited = [source for source in answer["sources"] if source["cited"]]
    (expander,) = app.expander
    assert expander.label == f"Sources ({len(cited)})"
    shown = markdown_of(expander)
    assert len(shown) == len(cited) > 0
    for line, source in zip(shown, cited, strict=True):
        name = source["title"] or source["document"]
        assert line.startswith(f"**[{source['index']}] {name}**")
        assert (source["heading"] or name) in line
    assert [caption.value for caption in expander.caption] == [s["text"] for s in cited]


def test_a_follow_up_continues_the_same_conversation(server: LiveServer, app: AppTest) -> None:
    app.chat_input[0].set_value(QUESTION).run()
    first_session = app.session_state["session_id"]
    app.chat_input[0].set_value("And what does the server do then?").run()

    assert not app.exception
    assert app.session_state["session_id"] == first_session
    session = stored_session(server, first_session)
    assert session["messages"]["total"] == 4
    assert [m.name for m in app.chat_message] == ["user", "assistant", "user", "assistant"]
    assert markdown_of(app.chat_message[3])[0] == session["messages"]["items"][3]["content"]
    # The earlier answer keeps its sources after the page reruns.
    assert len(app.expander) == 2


def test_a_refused_question_shows_the_problem_detail(app: AppTest) -> None:
    unknown = str(uuid.uuid4())
    app.session_state["session_id"] = unknown
    app.chat_input[0].set_value(QUESTION).run()

    assert not app.exception
    assert [error.value for error in app.error] == [f"There is no session {unknown}."]


ANSWER = "Close the connection [1]."
FOOTER = "\n\nSources:\n[1] cancellation.md\n"
ERROR = "\n\n[error llm_error] The language model failed while answering.\n"


@pytest.mark.parametrize("cut", range(1, len(ANSWER + FOOTER)))
def test_the_sources_footer_is_left_out_wherever_the_stream_splits(cut: int) -> None:
    text = ANSWER + FOOTER
    assert "".join(without_footer(iter([text[:cut], text[cut:]]))) == ANSWER


@pytest.mark.parametrize("cut", range(1, 60))
def test_sources_the_model_writes_itself_stay_in_the_answer(cut: int) -> None:
    # Only the stream's last "Sources:" block is the footer.
    written = "Close it [1].\n\nSources:\n[1] the docs\n\nThen cancel the run [2]."
    text = written + FOOTER
    assert "".join(without_footer(iter([text[:cut], text[cut:]]))) == written


def test_an_answer_that_cites_nothing_loses_only_its_last_newline() -> None:
    assert "".join(without_footer(iter(["No passage ", "says.\n"]))) == "No passage says."


@pytest.mark.parametrize("cut", range(1, len(ANSWER + ERROR)))
def test_a_failure_line_becomes_an_error_after_the_text_before_it(cut: int) -> None:
    text = ANSWER + ERROR
    shown: list[str] = []
    with pytest.raises(CitestreamError, match=r"^The language model failed while answering\.$"):
        shown.extend(without_footer(iter([text[:cut], text[cut:]])))
    assert "".join(shown) == ANSWER
