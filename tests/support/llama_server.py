"""llama.cpp's own OpenAI-compatible server over the SmolLM2 GGUF: a real peer for the
`openai` LLM provider and for OpenAI-compatible embeddings, without internet."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from app.llms.llamacpp import bundled_smollm2_path

MODEL_ALIAS = "smollm2"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def llama_cpp_server(log_dir: Path, *, embeddings: bool = False) -> Iterator[int]:
    """Run `llama_cpp.server` (chat completions, or mean-pooled embeddings); yields its port."""
    port = _free_port()
    # A file, not a pipe: llama.cpp logs enough to fill an unread pipe and block the server.
    log_path = log_dir / ("embeddings.log" if embeddings else "server.log")
    module = "tests.support.pooled_embeddings_server" if embeddings else "llama_cpp.server"
    arguments = ["--model", str(bundled_smollm2_path()), "--model_alias", MODEL_ALIAS]
    arguments += ["--host", "127.0.0.1", "--port", str(port)]
    arguments += ["--embedding", "true", "--n_ctx", "2048"] if embeddings else ["--n_ctx", "8192"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *arguments], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)
