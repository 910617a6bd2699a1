"""Threads share a bounded number of malloc arenas once the limit is set (glibc only)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A process that starts 16 threads which each allocate and hold memory from C's malloc at the
# same time, then prints glibc's statistics (one "Arena n:" line per arena) to stderr.
_THREADS_THAT_ALLOCATE = textwrap.dedent(
    """
    import ctypes, sys, threading
    from app.core.malloc_arenas import limit_malloc_arenas
    if sys.argv[1] != "default":
        assert limit_malloc_arenas(int(sys.argv[1]))
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    all_allocated = threading.Barrier(16)
    def allocate():
        libc.malloc(64 * 1024)
        all_allocated.wait()
    threads = [threading.Thread(target=allocate) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc.malloc_stats()
    """
)


def _arenas(limit: str) -> int:
    finished = subprocess.run(
        [sys.executable, "-c", _THREADS_THAT_ALLOCATE, limit],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return finished.stderr.count("Arena ")


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc")
def test_threads_that_allocate_at_once_share_the_arenas_the_limit_allows() -> None:
    assert _arenas("default") > 4  # glibc's own choice: an arena per thread, up to 8 per core
    assert _arenas("2") <= 2
