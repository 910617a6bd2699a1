"""The `openai` provider against a real OpenAI-compatible server: llama.cpp's, same GGUF."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.conftest import MakeSettings
from tests.support.llama_server import llama_cpp_server
from tests.support.server import serve
from tests.support.sse import answer_text, decode, read_messages
from tests.support.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.llamacpp

QUESTION = {"query": "How do I cancel a stream?"}


@pytest.fixture(scope="module")
def openai_server_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`python -m llama_cpp.server` serving SmolLM2 as model `smollm2`."""
    with llama_cpp_server(tmp_path_factory.mktemp("llama-server")) as port:
        yield port


def _openai_settings(make_settings: MakeSettings, port: int, max_tokens: int) -> dict[str, object]:
    return {
        "provider": "openai",
        "base_url": f"http://127.0.0.1:{port}/v1",
        "model": "smollm2",
        "max_new_tokens": max_tokens,
    }


async def test_answer_streams_from_an_openai_compatible_server(
    make_settings: MakeSettings, openai_server_port: int
) -> None:
    settings = make_settings(llm=_openai_settings(make_settings, openai_server_port, 24))
    async with (
        serve(settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=120) as client,
    ):
        async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
            events = [decode(sse) async for sse in source.aiter_sse()]
        tokens = await server.metric("citestream_llm_tokens_total")

    assert events[0].event == "meta"
    assert events[-1].event == "source"
    assert events[-1].data[0]["document"] == "cancellation.md"
    # Tokens that arrive while the server is busy are sent joined: count the model's tokens.
    assert answer_text(events).strip()
    assert 3 <= tokens <= 24


async def test_disconnect_closes_the_upstream_http_stream(
    make_settings: MakeSettings, openai_server_port: int
) -> None:
    async with tcp_proxy(openai_server_port) as (proxy_port, connections):
        settings = make_settings(llm=_openai_settings(make_settings, proxy_port, 512))
        async with (
            serve(settings) as server,
            httpx.AsyncClient(base_url=server.url, timeout=120) as client,
        ):
            async with aconnect_sse(client, "POST", "/api/chat/stream", json=QUESTION) as source:
                await read_messages(source, 3)
                assert connections.open == 1  # the upstream stream is live
            await server.wait_for_metric("citestream_active_streams", 0)
            await asyncio.wait_for(connections.all_closed.wait(), timeout=30)
            settled = await server.metric("citestream_llm_tokens_total")
            await asyncio.sleep(0.5)
            assert await server.metric("citestream_llm_tokens_total") == settled

    assert connections.open == 0, "the upstream HTTP response was left open"
    assert connections.opened_total == 1
    assert settled < 512
