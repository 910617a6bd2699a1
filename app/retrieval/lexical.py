"""BM25 over each collection's live chunks, in memory, rebuilt when the collection changes.

The database is the source of truth: a search first reads the collection's generation (one
small query) and, when documents changed, rebuilds the index from the stored chunks in a
worker thread. Hits are chunk ids; the caller loads the chunks that are still live, so a
deleted document is never cited even while a rebuild is under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

from app.core.changes import CollectionChanges
from app.core.chunks import LiveChunk, ScoredChunk, index_text
from app.core.clock import Clock, SystemClock
from app.core.ttl_cache import TtlCache
from app.retrieval.ports import CollectionChunks, CollectionGenerations

logger = logging.getLogger(__name__)

_LOAD_BATCH = 1000


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """English words, stop words removed, stemmed: 'cancelling' matches 'cancel'."""
    # A stemmer per call: PyStemmer objects are not safe to share between threads.
    tokens: list[list[str]] = bm25s.tokenize(
        list(texts),
        stopwords="en",
        stemmer=Stemmer.Stemmer("english"),
        return_ids=False,
        show_progress=False,
    )
    return tokens


class _Snapshot:
    """A built BM25 index of one collection at one generation. Immutable once built."""

    def __init__(self, generation: int, ids: list[uuid.UUID], bm25: bm25s.BM25 | None) -> None:
        self.generation = generation
        self.ids = ids
        self._bm25 = bm25

    def search(self, query: str, limit: int, min_score: float) -> list[ScoredChunk]:
        tokens = tokenize([query])[0]
        if self._bm25 is None or not tokens:  # only stop words: nothing to match
            return []
        scores = self._bm25.get_scores(tokens)
        count = min(limit, len(self.ids))
        best = np.argpartition(-scores, count - 1)[:count]
        ranked = sorted(best, key=lambda i: -scores[i])
        return [ScoredChunk(self.ids[i], float(scores[i])) for i in ranked if scores[i] > min_score]


class LexicalIndex:
    """One BM25 index per collection, kept in step with the knowledge base."""

    def __init__(
        self,
        *,
        generations: CollectionGenerations,
        chunks: CollectionChunks,
        rebuild_wait_s: float,
        check_every_s: float = 0.0,
        changes: CollectionChanges | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._generations = generations
        self._chunks = chunks
        self._rebuild_wait_s = rebuild_wait_s
        # Each search used to read the collection's generation first: a database round trip
        # that was a quarter of the time to first token. Now it is read at most this often,
        # and at once after a change this process made (announced through `changes`).
        self._check_every_s = check_every_s
        self._clock = clock or SystemClock()
        self._checked_at: dict[str, float] = {}
        # Not cached (a TTL of 0), only shared: the searches that find the check due together
        # wait for one read of the generation instead of each sending its own.
        self._generation_reads: TtlCache[int | None] = TtlCache(self._clock, 0)
        if changes is not None:
            changes.listen(self._forget_check)
        self._snapshots: dict[str, _Snapshot] = {}
        self._rebuilds: dict[str, asyncio.Task[_Snapshot | None]] = {}
        # Tokens of each chunk already seen: chunks never change, so a rebuild after a small
        # change only tokenizes what is new.
        self._tokens: dict[str, dict[uuid.UUID, list[str]]] = {}

    async def search(
        self, collection: str, query: str, limit: int, min_score: float = 0.0
    ) -> list[ScoredChunk]:
        """The best `limit` chunks scoring above `min_score`, best first."""
        snapshot = await self._current(collection)
        if snapshot is None or not query.strip():
            return []
        return await asyncio.to_thread(snapshot.search, query, limit, min_score)

    async def warm(self, collection: str) -> None:
        """Build the collection's index now rather than at its first search."""
        await self._current(collection)

    def _forget_check(self, collection: str) -> None:
        self._checked_at.pop(collection, None)
        self._generation_reads.clear()  # a read in flight may have started before the change

    async def _current(self, collection: str) -> _Snapshot | None:
        checked_at = self._checked_at.get(collection)
        snapshot = self._snapshots.get(collection)
        now = self._clock.monotonic()
        if (
            snapshot is not None
            and checked_at is not None
            and now - checked_at < self._check_every_s
        ):
            return snapshot
        generation = await self._generation_reads.get_or_load(
            collection, lambda: self._generations.generation(collection)
        )
        if generation is None:
            self._snapshots.pop(collection, None)
            self._tokens.pop(collection, None)
            return None
        deadline = asyncio.get_running_loop().time() + self._rebuild_wait_s
        while True:
            snapshot = self._snapshots.get(collection)
            if snapshot is not None and snapshot.generation >= generation:
                self._checked_at[collection] = now
                return snapshot
            # A rebuild that started before the change this search saw ends too old: then
            # another one runs, within the same wait.
            rebuild = self._rebuilds.get(collection)
            if rebuild is None or rebuild.done():
                rebuild = asyncio.create_task(self._rebuild(collection))
                rebuild.add_done_callback(_log_failure)
                self._rebuilds[collection] = rebuild
            # Shielded: a search that is cancelled (its client left) does not stop the
            # rebuild other searches wait for.
            if snapshot is None:
                if await asyncio.shield(rebuild) is None:
                    return None  # the collection went away meanwhile
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(asyncio.shield(rebuild), max(0.0, remaining))
            except TimeoutError:
                logger.info(
                    "Collection %r changed; searching its previous index while the new one builds",
                    collection,
                )
                return snapshot

    async def _rebuild(self, collection: str) -> _Snapshot | None:
        state = await self._chunks.collection_snapshot(collection)
        if state is None:
            return None
        cache = self._tokens.setdefault(collection, {})
        # Only the chunks not tokenized yet are loaded, in batches, so a rebuild after a small
        # change reads little and never holds the event loop for long.
        missing = [chunk_id for chunk_id in state.chunk_ids if chunk_id not in cache]
        loaded: dict[uuid.UUID, LiveChunk] = {}
        for start in range(0, len(missing), _LOAD_BATCH):
            loaded.update(await self._chunks.live_chunks(missing[start : start + _LOAD_BATCH]))
        snapshot = await asyncio.to_thread(_build, state.generation, state.chunk_ids, loaded, cache)
        current = self._snapshots.get(collection)
        if current is None or current.generation < snapshot.generation:
            self._snapshots[collection] = snapshot
        return snapshot

    async def aclose(self) -> None:
        """Stop rebuilds in flight."""
        for task in self._rebuilds.values():
            task.cancel()
        for task in self._rebuilds.values():
            with contextlib.suppress(BaseException):
                await task
        self._rebuilds.clear()


def _build(
    generation: int,
    chunk_ids: list[uuid.UUID],
    loaded: dict[uuid.UUID, LiveChunk],
    cache: dict[uuid.UUID, list[str]],
) -> _Snapshot:
    if loaded:
        chunks = list(loaded.values())
        texts = [index_text(chunk.title, chunk.heading, chunk.text) for chunk in chunks]
        for chunk, tokens in zip(chunks, tokenize(texts), strict=True):
            cache[chunk.id] = tokens
    # A chunk that stopped being live between listing and loading is left out.
    ids = [chunk_id for chunk_id in chunk_ids if chunk_id in cache]
    live = set(ids)
    for stale in [chunk_id for chunk_id in cache if chunk_id not in live]:
        del cache[stale]
    if not ids:
        return _Snapshot(generation, [], None)
    bm25 = bm25s.BM25()
    bm25.index([cache[chunk_id] for chunk_id in ids], show_progress=False)
    return _Snapshot(generation, ids, bm25)


def _log_failure(task: asyncio.Task[_Snapshot | None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Could not rebuild a lexical index", exc_info=task.exception())
