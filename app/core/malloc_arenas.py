"""How many malloc arenas glibc may give this process's threads.

glibc gives a thread that allocates an arena of its own, up to eight per core, and an arena
keeps the memory it once held. Citestream's threads allocate little: SQLite's (one per pooled
aiosqlite connection, up to 40), and short jobs such as a BM25 search. Yet each touched an
arena: a burst of 100 answers on SQLite opened 42 threads and 6 MB of RSS that stayed, 60 KB
per answer of the burst (`bench/load.py`). Two arenas cost these threads little: their Python
code takes turns under the GIL anyway, and SQLite's own page caches are allocated once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt's parameter for the arena limit, in glibc's malloc.h.
_M_ARENA_MAX = -8


def limit_malloc_arenas(count: int) -> bool:
    """Let glibc create at most `count` arenas from now on (0 leaves its default). False where
    that cannot be set: another C library (musl has no mallopt), another system."""
    if count <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, count))
