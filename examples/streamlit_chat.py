"""A Streamlit chat over Citestream: the answer streams in as plain text, then the passages it
cites appear in an expander, with their page or heading.

    CITESTREAM_URL=http://127.0.0.1:8000 streamlit run examples/streamlit_chat.py

When the server requires keys, also set `CITESTREAM_API_KEY` (sent as `Authorization: Bearer`).

It uses two endpoints: `POST /api/chat/stream` with `Accept: text/plain` (the answer, then a
"Sources:" footer that this page leaves out), and `GET /api/sessions/{id}` for the stored
answer's sources. The conversation's id comes back in the `X-Session-Id` header and is sent
with each next question, so the server keeps the history.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import streamlit as st

# Where the plain-text answer ends: its sources' footer, or a failure's last line.
SOURCES_FOOTER = "\n\nSources:\n"
ERROR_LINE = "\n\n[error "
# Long enough for an answer's slowest token; connecting fails fast.
TIMEOUT = httpx.Timeout(120.0, connect=5.0)


class CitestreamError(Exception):
    """What the server said went wrong (a problem+json `detail`, or the stream's error line)."""


def base_url() -> str:
    return os.environ.get("CITESTREAM_URL", "http://127.0.0.1:8000").rstrip("/")


def auth_headers() -> dict[str, str]:
    """The API key, when the server requires one (it does beyond loopback, or once keys exist)."""
    key = os.environ.get("CITESTREAM_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def problem_detail(response: httpx.Response) -> str:
    """The `detail` of a problem+json answer, or its status line for anything else."""
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.reason_phrase}"


def answer_stream(question: str) -> Iterator[str]:
    """The answer's text as it arrives, without the footer; keeps the conversation's ids."""
    body = {"query": question, "session_id": st.session_state.get("session_id")}
    headers = {"Accept": "text/plain", **auth_headers()}
    url = f"{base_url()}/api/chat/stream"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=TIMEOUT) as response:
        if response.is_error:
            response.read()
            raise CitestreamError(problem_detail(response))
        st.session_state.session_id = response.headers["X-Session-Id"]
        st.session_state.message_id = response.headers["X-Message-Id"]
        yield from without_footer(response.iter_text())


def without_footer(pieces: Iterator[str]) -> Iterator[str]:
    """The text before the footer. The footer is the stream's last block, but a model may write
    "Sources:" itself: from the first place a footer could start, the text waits for the end
    of the stream, which says where the footer really begins. A footer's start may also arrive
    split across pieces, so the last few characters wait until the next piece."""
    markers = (SOURCES_FOOTER, ERROR_LINE)
    keep = max(len(marker) for marker in markers) - 1
    held = ""
    waiting = False  # a footer may have begun: hold everything until the end
    for piece in pieces:
        held += piece
        if not waiting:
            starts = [found for marker in markers if (found := held.find(marker)) >= 0]
            if starts:
                waiting = True
                yield held[: min(starts)]
                held = held[min(starts) :]
            elif len(held) > keep:
                yield held[:-keep]
                held = held[-keep:]
    # The response is whole (and the answer stored, before the page asks for its sources).
    footer = max((held.rfind(marker), marker) for marker in markers)
    if footer[0] < 0:
        yield held.rstrip("\n")  # no source was cited: the answer ends with a newline
        return
    at, marker = footer
    yield held[:at]
    if marker == ERROR_LINE:
        raise CitestreamError(held[at:].partition("] ")[2].strip())


def cited_sources(session_id: str, message_id: str) -> list[dict[str, Any]]:
    """The cited sources of the stored answer `message_id` (the session's last message)."""
    url = f"{base_url()}/api/sessions/{session_id}"
    with httpx.Client(timeout=TIMEOUT, headers=auth_headers()) as client:
        total = client.get(url, params={"limit": 1}).raise_for_status().json()["messages"]["total"]
        page = client.get(url, params={"limit": 1, "offset": max(total - 1, 0)})
    answer = page.raise_for_status().json()["messages"]["items"][0]
    if answer["id"] != message_id:
        return []
    return [source for source in answer["sources"] or [] if source["cited"]]


def label(source: dict[str, Any]) -> str:
    """`[n] Title — page 3 · Section > Subsection`, leaving out what is unknown or repeated."""
    name = source.get("title") or source["document"]
    page = f"page {source['page']}" if source.get("page") else ""
    heading = source.get("heading") if source.get("heading") != name else ""
    place = " · ".join(part for part in (page, heading) if part)
    return f"**[{source['index']}] {name}**" + (f" — {place}" if place else "")


def show_sources(sources: list[dict[str, Any]]) -> None:
    if not sources:
        return
    with st.expander(f"Sources ({len(sources)})"):
        for source in sources:
            st.markdown(label(source))
            st.caption(source["text"])


def ask(question: str) -> None:
    """Stream the answer to `question` into the page, then its sources; remember both."""
    with st.chat_message("assistant"):
        try:
            answer = st.write_stream(answer_stream(question))
            sources = cited_sources(st.session_state.session_id, st.session_state.message_id)
        except CitestreamError as error:
            st.error(str(error))
            return
        except httpx.HTTPError as error:
            st.error(f"Citestream at {base_url()} did not answer: {error}")
            return
        show_sources(sources)
    st.session_state.messages.append(
        {"role": "assistant", "content": str(answer), "sources": sources}
    )


def main() -> None:
    st.set_page_config(page_title="Citestream chat")
    st.title("Citestream chat")
    st.session_state.setdefault("messages", [])
    with st.sidebar:
        st.caption(f"Server: {base_url()}")
        if st.button("New conversation"):
            st.session_state.messages = []
            st.session_state.pop("session_id", None)
    for message in st.session_state.messages:
        with st.chat_message(message["role"]):
            st.markdown(message["content"])
            show_sources(message.get("sources", []))
    if question := st.chat_input("Ask about your documents"):
        st.session_state.messages.append({"role": "user", "content": question})
        with st.chat_message("user"):
            st.markdown(question)
        ask(question)


# Streamlit runs the script as __main__; tests import its functions.
if __name__ == "__main__":
    main()
