"""The OpenAI-compatible endpoints, driven by the official `openai` package against a live
server: collections as models, whole and streamed answers whose citations are annotations
with URLs that open the passage, conversations sent whole, stopping, and OpenAI-shaped errors."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
from prometheus_client.parser import text_string_to_metric_families

from app.core.settings import ChatSettings, LLMSettings, Settings
from tests.conftest import MakeSettings
from tests.support.doc_examples import DOCUMENTED_URL, example
from tests.support.llms import CONDENSE_MARKER, BrokenLLM, ScriptedLLM
from tests.support.processes import output_of
from tests.support.server import LiveServer, serve
from tests.support.threaded_server import serve_in_thread

# 40 tokens, one every 20 ms: an answer lasts under a second, long enough to be left midway.
TOKENS = 40
HANDBOOK = (
    "# The source event\n\nThe source event contains the passages an answer cites: for each, "
    "its document, title, page or heading, a snippet and its score.\n"
)
QUESTION = "What does the source event contain?"
CANCELS = "citestream_run_cancels_total"
TOKENS_METRIC = "citestream_llm_tokens_total"
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module, with one page uploaded into `handbook` and `default`."""
    root = tmp_path_factory.mktemp("openai")
    settings = Settings(
        _env_file=None,
        data_dir=root / "data",
        llm=LLMSettings(provider="fake", fake_tokens=TOKENS, fake_delay_ms=20),
        # Heartbeats between the chunks of every stream: the client must skip them.
        chat=ChatSettings(heartbeat_s=0.1),
    )
    with serve_in_thread(settings) as live:
        page = ("source-event.md", HANDBOOK.encode(), "text/markdown")
        for collection in ("handbook", "default"):  # `default`: what the documented example asks
            uploaded = httpx.post(
                f"{live.url}/api/documents",
                files=[("files", page)],
                data={"collection": collection},
                timeout=120,
            )
            assert uploaded.status_code < 300, uploaded.text
        yield live


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[openai.AsyncOpenAI]:
    # In local mode any key is accepted; no retries, so that every error reaches the test.
    async with openai.AsyncOpenAI(
        base_url=f"{server.url}/v1", api_key="any", max_retries=0, timeout=60
    ) as client:
        yield client


async def _metric(url: str, name: str, **labels: str) -> float:
    async with httpx.AsyncClient(timeout=30) as http:
        text = (await http.get(f"{url}/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"metric {name} {labels} not found")


async def test_the_models_are_the_collections_with_default_always(
    client: openai.AsyncOpenAI,
) -> None:
    models = [model async for model in client.models.list()]
    assert {model.id for model in models} >= {"default", "handbook"}
    assert all(model.object == "model" and model.owned_by == "citestream" for model in models)


async def test_a_whole_answer_cites_passages_whose_urls_open(
    client: openai.AsyncOpenAI,
) -> None:
    raw = await client.chat.completions.with_raw_response.create(model="handbook", messages=ASK)
    completion = raw.parse()
    assert completion.id == f"chatcmpl-{uuid.UUID(raw.headers['x-message-id']).hex}"
    assert raw.headers["x-session-id"]
    assert "x-accel-buffering" not in raw.headers
    choice = completion.choices[0]
    content = choice.message.content or ""
    assert choice.finish_reason == "stop"
    assert completion.model == "handbook"
    assert completion.id.startswith("chatcmpl-")
    annotations = choice.message.annotations or []
    assert len(annotations) == content.count("[1]") + content.count("[2]") > 0
    async with httpx.AsyncClient(timeout=30) as http:
        for annotation in annotations:
            cited = annotation.url_citation
            assert content[cited.start_index : cited.end_index] in ("[1]", "[2]")
            assert cited.title == "The source event"
            opened = await http.get(cited.url)
            assert opened.status_code == 200, opened.text
            focus = [chunk for chunk in opened.json()["context"] if chunk["focus"]]
            assert "passages an answer cites" in focus[0]["text"]
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 7  # "What does the source event contain?"
    assert completion.usage.completion_tokens >= TOKENS


async def _chunks(
    client: openai.AsyncOpenAI, messages: list[ChatCompletionMessageParam], **options: Any
) -> list[ChatCompletionChunk]:
    stream = await client.chat.completions.create(
        model="handbook", messages=messages, stream=True, **options
    )
    return [chunk async for chunk in stream]


async def test_a_stream_ends_with_stop_annotations_and_usage(
    client: openai.AsyncOpenAI,
) -> None:
    chunks = await _chunks(client, ASK, stream_options={"include_usage": True})
    choices = [chunk.choices[0] for chunk in chunks if chunk.choices]
    assert choices[0].delta.role == "assistant"
    assert [c.finish_reason for c in choices] == [None] * (len(choices) - 1) + ["stop"]
    content = "".join(c.delta.content or "" for c in choices)
    whole = await client.chat.completions.create(model="handbook", messages=ASK)
    assert content == whole.choices[0].message.content  # the fake model is deterministic
    # Not in openai-python's delta type: kept as an extra field, as JSON.
    annotations = (choices[-1].delta.model_extra or {})["annotations"]
    assert [a["url_citation"]["start_index"] for a in annotations] == [
        a.url_citation.start_index for a in whole.choices[0].message.annotations or []
    ]
    usage = chunks[-1]
    assert usage.choices == []
    assert usage.usage is not None
    assert usage.usage.total_tokens == usage.usage.prompt_tokens + usage.usage.completion_tokens
    assert len({chunk.id for chunk in chunks}) == 1


async def test_the_documented_example_prints_the_answer_and_its_citations(
    server: LiveServer,
) -> None:
    code = example("docs/clients.md", "python", "client.chat.completions.create")
    printed = await output_of(sys.executable, "-c", code.replace(DOCUMENTED_URL, server.url))
    assert "[1]" in printed.splitlines()[0]
    assert f"[1] The source event: {server.url}/api/documents/" in printed


async def test_closing_a_stream_early_stops_the_model(
    server: LiveServer, client: openai.AsyncOpenAI
) -> None:
    cancels = await _metric(server.url, CANCELS, origin="disconnect")
    tokens = await _metric(server.url, TOKENS_METRIC)
    stream = await client.chat.completions.create(model="handbook", messages=ASK, stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    await stream.close()
    await _assert_model_stopped(server, cancels, tokens)


async def test_leaving_a_whole_answer_early_stops_the_model(
    server: LiveServer, client: openai.AsyncOpenAI
) -> None:
    cancels = await _metric(server.url, CANCELS, origin="disconnect")
    tokens = await _metric(server.url, TOKENS_METRIC)
    asking = asyncio.create_task(client.chat.completions.create(model="handbook", messages=ASK))
    async with asyncio.timeout(30):
        while await _metric(server.url, TOKENS_METRIC) == tokens:  # noqa: ASYNC110 - polling over HTTP
            await asyncio.sleep(0.01)
    asking.cancel()  # the model is writing: the client goes away
    with contextlib.suppress(asyncio.CancelledError):
        await asking
    await _assert_model_stopped(server, cancels, tokens)


async def _assert_model_stopped(server: LiveServer, cancels: float, tokens: float) -> None:
    """The run was cancelled for its client leaving, and the model wrote nothing since."""
    async with asyncio.timeout(30):
        while await _metric(server.url, CANCELS, origin="disconnect") == cancels:  # noqa: ASYNC110 - polling over HTTP
            await asyncio.sleep(0.02)
    settled = await _metric(server.url, TOKENS_METRIC)
    await asyncio.sleep(0.5)  # 25 token-times: a model still writing would show
    assert await _metric(server.url, TOKENS_METRIC) == settled < tokens + TOKENS


@pytest.mark.parametrize(
    ("request_body", "error", "param"),
    [
        ({"model": "no-such-collection", "messages": ASK}, openai.NotFoundError, "model"),
        ({"model": "handbook", "messages": []}, openai.BadRequestError, "messages"),
        (
            {"model": "handbook", "messages": [*ASK, {"role": "assistant", "content": "Hm."}]},
            openai.BadRequestError,
            "messages",
        ),
        ({"model": "handbook", "messages": ASK, "n": 2}, openai.BadRequestError, "n"),
        (
            {"model": "handbook", "messages": ASK, "tools": [{"type": "function"}]},
            openai.BadRequestError,
            "tools",
        ),
    ],
)
async def test_errors_are_openai_errors_the_client_raises_as_typed(
    client: openai.AsyncOpenAI,
    request_body: dict[str, Any],
    error: type[openai.APIStatusError],
    param: str,
) -> None:
    with pytest.raises(error) as raised:
        await client.chat.completions.create(**request_body)
    body = raised.value.body
    assert isinstance(body, dict)
    assert set(body) == {"message", "type", "code", "param"}
    assert body["param"] == param
    assert body["message"]
    if error is openai.NotFoundError:
        assert raised.value.code == "model_not_found"
    else:
        assert body["type"] == "invalid_request_error"


async def test_earlier_messages_are_the_history_and_system_messages_are_not(
    make_settings: MakeSettings,
) -> None:
    llm = ScriptedLLM(answer="Close it [1].", condensed="How often are heartbeats sent?")
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": [{"type": "text", "text": "Tell me about heartbeats."}]},
        {"role": "assistant", "content": "They keep idle streams open."},
        {"role": "user", "content": "How often?"},
    ]
    async with (
        serve(make_settings(), llm=llm) as server,
        openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0) as client,
    ):
        completion = await client.chat.completions.create(model="default", messages=messages)
    assert completion.choices[0].message.content == "Close it [1]. "
    condense = next(prompt for prompt in llm.prompts if CONDENSE_MARKER in prompt)
    assert "Tell me about heartbeats." in condense
    assert "They keep idle streams open." in condense
    assert "How often?" in condense
    assert not any("pirate" in prompt for prompt in llm.prompts)


async def test_a_stream_that_fails_midway_ends_with_an_error_the_client_raises(
    make_settings: MakeSettings,
) -> None:
    async with (
        serve(make_settings(), llm=BrokenLLM(good_tokens=3)) as server,
        openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0) as client,
    ):
        # A question the test corpus has passages for: without any, no model is asked.
        cancel: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": "How do I cancel a stream?"}
        ]
        stream = await client.chat.completions.create(model="default", messages=cancel, stream=True)
        received: list[str] = []
        with pytest.raises(openai.APIError) as raised:
            await _read_into(received, stream)
    assert "token0" in "".join(received)
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["code"] == "llm_error"
    assert "model.py" not in raised.value.message  # no internals


async def test_an_unknown_key_is_an_authentication_error(make_settings: MakeSettings) -> None:
    async with (
        serve(make_settings(auth={"required": True})) as server,
        openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0) as client,
    ):
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.chat.completions.create(model="default", messages=ASK)
    assert raised.value.response.headers["www-authenticate"].startswith("Bearer")
    assert raised.value.body == {
        "message": "The API key is unknown or revoked.",
        "type": "authentication_error",
        "code": "unauthenticated",
        "param": None,
    }


async def _read_into(received: list[str], stream: openai.AsyncStream[ChatCompletionChunk]) -> None:
    async for chunk in stream:
        received.append(chunk.choices[0].delta.content or "")


def test_openai_paths_are_documented_with_openai_errors(tmp_path: Path) -> None:
    from app.container import Container
    from app.main import create_app

    settings = Settings(_env_file=None, data_dir=tmp_path, llm=LLMSettings(provider="fake"))
    container = Container(settings=settings)
    try:
        spec = create_app(settings, container).openapi()
    finally:
        container.unwire()
    responses = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert "422" not in responses
    for status in ("400", "401", "404", "429", "503"):
        assert responses[status]["content"] == {
            "application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}
        }
