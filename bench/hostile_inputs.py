"""What hostile inputs cost a running server: time to answer, the answer, and how much the
server's memory grew. Inputs: a 46 KB PDF whose 200 pages share one 5 MB content stream, a
19 MB text file (under the 20 MB upload limit) and the first question after it, 19 MB of text
without a space, and a 100 MB JSON body. While each is handled,
`/healthz` is probed to show whether other requests are still served.

The server is `citestream serve` in a subprocess with the fake model on a fresh data folder;
its resident memory (RSS) is sampled every 50 ms with psutil: "server" is the process itself,
"children" the parse processes it starts.

Usage: `uv run python -m bench.hostile_inputs [--only pdf,text,dump,json] [--timeout 900]`.
"""

from __future__ import annotations

import argparse
import base64
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from bench.servers import free_port, server_env, wait_for
from tests.support.pdfs import shared_stream_pdf

MB = 1024 * 1024


def text_file(size: int, seed: int = 1) -> bytes:
    """Sentences of made-up words in paragraphs, like a long plain-text export."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(5000)]
    parts: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choices(words, k=rng.randint(5, 20))).capitalize() + ". "
        if rng.random() < 0.1:
            sentence += "\n\n"
        parts.append(sentence)
        total += len(sentence)
    return "".join(parts).encode()[:size]


@dataclass
class Sampler:
    """The server's RSS (and its children's) sampled in a thread."""

    process: psutil.Process
    server_peak: int = 0
    children_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.server_peak = max(self.server_peak, self.rss())
                children = 0
                for child in self.process.children(recursive=True):
                    with suppress(psutil.Error):
                        children += child.memory_info().rss
                self.children_peak = max(self.children_peak, children)
            except psutil.Error:
                return
            time.sleep(0.05)

    @contextmanager
    def sampling(self) -> Iterator[None]:
        self.server_peak = self.rss()
        self.children_peak = 0
        self._stop.clear()
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()


@dataclass
class Probe:
    """`/healthz` asked every 200 ms in a thread: the slowest answer, and the failures."""

    url: str
    slowest: float = 0.0
    failures: int = 0
    answered: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.answered += ok
                self.failures += not ok
                time.sleep(0.2)

    @contextmanager
    def probing(self) -> Iterator[None]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()


def case(name: str, url: str, sampler: Sampler, send: httpx.Request, timeout_s: float) -> None:
    before = sampler.rss()
    probe = Probe(url)
    started = time.monotonic()
    outcome: str
    with sampler.sampling(), probe.probing(), httpx.Client(timeout=timeout_s) as client:
        try:
            response = client.send(send)
            body = response.text
            outcome = f"{response.status_code} {body[:160]}"
        except httpx.HTTPError as error:
            outcome = f"no answer: {error!r}"
    elapsed = time.monotonic() - started
    print(f"\n## {name}")
    print(f"answer:           {outcome}")
    print(f"time:             {elapsed:.1f} s")
    print(f"server RSS:       {before / MB:.0f} MB before, peak {sampler.server_peak / MB:.0f} MB")
    print(f"server RSS growth:{(sampler.server_peak - before) / MB:8.0f} MB")
    print(f"parse processes:  peak {sampler.children_peak / MB:.0f} MB")
    print(
        f"/healthz meanwhile: {probe.answered} answered, {probe.failures} failed, "
        f"slowest {probe.slowest * 1000:.0f} ms"
    )


def upload(url: str, name: str, data: bytes) -> httpx.Request:
    return httpx.Request(
        "POST", f"{url}/api/documents", files=[("files", (name, data))], data={"collection": "x"}
    )


def main(only: set[str], timeout_s: float) -> None:
    with tempfile.TemporaryDirectory(prefix="citestream-hostile-") as scratch:
        env = server_env(Path(scratch), LLM__PROVIDER="fake")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(url, "/readyz")
            sampler = Sampler(psutil.Process(server.pid))
            if "pdf" in only:
                pdf = shared_stream_pdf()
                print(f"shared-stream PDF: {len(pdf)} bytes")
                case("shared-stream PDF", url, sampler, upload(url, "shared.pdf", pdf), timeout_s)
            if "text" in only:
                text = text_file(19 * MB)
                case("19 MB text file", url, sampler, upload(url, "big.txt", text), timeout_s)
                # The collection's BM25 index is built at its first search: 45,000 chunks.
                question = httpx.Request(
                    "POST", f"{url}/api/chat", json={"query": "Lorem ipsum?", "collection": "x"}
                )
                case("first question after it (BM25 build)", url, sampler, question, timeout_s)
            if "dump" in only:
                # No whitespace at all, as a base64 or minified dump: what took 2.7 GB on main.
                dump = base64.b64encode(random.Random(2).randbytes(19 * MB * 3 // 4))
                case("19 MB without spaces", url, sampler, upload(url, "dump.txt", dump), timeout_s)
            if "json" in only:
                body = b'{"query": "' + b"a" * (100 * MB) + b'"}'
                chat = httpx.Request(
                    "POST",
                    f"{url}/api/chat",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                case("100 MB JSON body", url, sampler, chat, timeout_s)
            stopping = time.monotonic()
            server.terminate()
            server.wait(timeout=120)
            print(f"\nSIGTERM -> exit: {time.monotonic() - stopping:.1f} s")
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="pdf,text,dump,json", help="Cases: pdf,text,dump,json.")
    parser.add_argument("--timeout", type=float, default=900.0, help="Client timeout, seconds.")
    arguments = parser.parse_args()
    main(set(arguments.only.split(",")), arguments.timeout)
