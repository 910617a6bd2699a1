"""How long `citestream serve` takes to start, with the default provider (the embedded SmolLM2
run by llama.cpp): from launching the process to `/healthz` answering (the process is up, its
database open) and to `/readyz` answering (the model and the default BM25 index loaded, ready
for questions). Prints numbers.

Usage: `uv run python -m bench.startup --runs 5`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import PROJECT, free_port, ingest, server_env, wait_for


def one_start(env: dict[str, str]) -> tuple[float, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launched = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        alive = wait_for(url, "/healthz", timeout_s=120) - launched
        ready = wait_for(url, "/readyz", timeout_s=120) - launched
    finally:
        server.terminate()
        server.wait(timeout=60)
    return alive, ready


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="citestream-startup-") as scratch:
        env = server_env(Path(scratch))
        ingest(env, PROJECT / "docs")  # also migrates the database, as `make run` does
        one_start(env)  # the first start after an install also fills Python's bytecode cache
        samples = [one_start(env) for _ in range(runs)]
    for label, values in (
        ("launch -> /healthz 200 (up)", [alive for alive, _ in samples]),
        ("launch -> /readyz 200 (model loaded)", [ready for _, ready in samples]),
    ):
        print(
            f"{label:<40} n={len(values)}  p50={statistics.median(values):5.2f} s  "
            f"min={min(values):5.2f} s  max={max(values):5.2f} s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Start-up benchmark")
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
