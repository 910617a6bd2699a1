"""A real uvicorn server on a free loopback port, in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn
from dependency_injector import providers
from fastapi import FastAPI
from llama_index.core.llms import LLM
from prometheus_client.parser import text_string_to_metric_families

from app.container import Container
from app.core.settings import Settings
from app.main import create_app
from app.server import problem_http_protocol

# No test relies on a request being fast: only on it finishing.
CLIENT_TIMEOUT_S = 120.0


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    container: Container
    # Its own client: building one per poll costs an SSL context on the shared event loop.
    probe: httpx.AsyncClient

    def client(self) -> httpx.AsyncClient:
        """A client of this server. Generous timeout: a busy machine is slow, not broken."""
        return httpx.AsyncClient(base_url=self.url, timeout=CLIENT_TIMEOUT_S)

    async def metric(self, name: str, **labels: str) -> float:
        """The current value of one sample on `/metrics`."""
        text = (await self.probe.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        raise AssertionError(f"metric {name} {labels} not found")

    async def wait_for_metric_at_least(
        self, name: str, minimum: float, timeout_s: float = 60.0
    ) -> None:
        """Wait until a counter reaches `minimum`."""
        async with asyncio.timeout(timeout_s):
            while await self.metric(name) < minimum:  # noqa: ASYNC110 - polling over HTTP
                await asyncio.sleep(0.01)

    async def wait_for_metric(
        self, name: str, expected: float, timeout_s: float = 60.0, **labels: str
    ) -> None:
        """Wait until a sample reaches `expected` (the server settles after a disconnect)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (value := await self.metric(name, **labels)) != expected:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{name}{labels} stayed at {value}, expected {expected}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serve(
    settings: Settings, container: Container | None = None, llm: LLM | None = None
) -> AsyncIterator[LiveServer]:
    """Run `create_app(settings)` under uvicorn until the block ends.

    `llm` stands in for the configured model (a remote model the test cannot reach).
    """
    container = container or Container(settings=settings)
    if llm is not None:
        container.llm.override(providers.Object(llm))
    app = create_app(settings, container)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        # As `citestream serve` runs it: what uvicorn's parser refuses is problem+json too.
        http=problem_http_protocol(settings.server.max_url_chars),
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        # uvicorn exits with SystemExit when start-up fails; as a plain error it stays this
        # test's failure instead of unwinding pytest itself.
        try:
            await server.serve()
        except SystemExit as exit_:
            raise RuntimeError(f"uvicorn exited ({exit_.code}) during start-up") from None

    task = asyncio.create_task(run())
    try:
        while not server.started:
            if task.done():
                task.result()  # start-up failed: raise its error
                raise AssertionError("uvicorn stopped before starting")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT_S) as probe:
            # The model and indexes load after the server starts listening: wait for them, as
            # a load balancer would, so tests start from a ready server.
            while (ready := await probe.get("/readyz")).status_code != 200:
                if ready.json()["status"] == "failed":
                    raise RuntimeError(f"the server could not start: {ready.json()['detail']}")
                await asyncio.sleep(0.01)
            yield LiveServer(url=url, app=app, container=container, probe=probe)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
