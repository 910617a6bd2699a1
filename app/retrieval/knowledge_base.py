"""The knowledge base: documents ingested from files, searchable with BM25, persisted on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, Document, NodeWithScore, QueryBundle
from llama_index.retrievers.bm25 import BM25Retriever

from app.settings import RetrievalSettings

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt"}
_MANIFEST = "manifest.json"
_NODES = "nodes.json"
_BM25_DIR = "bm25"


@dataclass
class IngestReport:
    """What an ingestion run did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


class KnowledgeBase:
    """Chunks of the ingested documents and a BM25 index over them.

    Files on disk are the source of truth: `manifest.json` (document → content hash, chunk ids),
    `nodes.json` (the chunks) and the BM25 index. A running server reloads when another process
    (`citestream ingest`) changes them.
    """

    def __init__(self, index_dir: Path, settings: RetrievalSettings) -> None:
        self._dir = index_dir
        self._settings = settings
        self._lock = threading.Lock()
        self._bm25: BM25Retriever | None = None
        self._loaded_version: tuple[int, int, int] | None = None
        self._document_count = 0

    # -- searching -------------------------------------------------------------------------

    def search(self, query: str) -> list[NodeWithScore]:
        """The best `top_k` chunks for `query` with a positive score. Blocking: CPU-bound."""
        self._reload_if_changed()
        bm25 = self._bm25
        if bm25 is None or not query.strip():
            return []
        hits = bm25.retrieve(QueryBundle(query_str=query))
        return [hit for hit in hits if (hit.score or 0.0) > 0.0]

    @property
    def document_count(self) -> int:
        """Documents in the index as last loaded."""
        return self._document_count

    def _version(self) -> tuple[int, int, int] | None:
        # The manifest is replaced atomically by each ingest, so its inode changes every time;
        # mtime alone can miss two writes within one clock tick.
        try:
            marker = (self._dir / _MANIFEST).stat()
        except FileNotFoundError:
            return None
        return marker.st_ino, marker.st_mtime_ns, marker.st_size

    def _reload_if_changed(self) -> None:
        version = self._version()
        if version == self._loaded_version:
            return
        with self._lock:
            if version == self._loaded_version:
                return
            try:
                bm25 = self._read_bm25() if version is not None else None
                document_count = len(self._read_manifest())
            except (OSError, ValueError) as error:
                # Keep answering from the index already loaded; the next search tries again.
                logger.warning("The changed index could not be read yet: %s", error)
                return
            self._bm25, self._document_count = bm25, document_count
            self._loaded_version = version

    def _read_bm25(self) -> BM25Retriever | None:
        bm25_dir = self._dir / _BM25_DIR
        if not (bm25_dir / "params.index.json").exists():
            return None
        bm25 = BM25Retriever.from_persist_dir(str(bm25_dir), show_progress=False)
        chunk_count = int(bm25.bm25.scores.get("num_docs", 0))
        bm25.similarity_top_k = max(1, min(self._settings.top_k, chunk_count))
        return bm25

    def load(self) -> None:
        """Read the persisted index (at start-up, off the event loop)."""
        self._reload_if_changed()

    # -- ingesting -------------------------------------------------------------------------

    def ingest(self, paths: list[Path]) -> IngestReport:
        """Add or replace the documents at `paths` (files or folders); skip unchanged files."""
        report = IngestReport()
        manifest = self._read_manifest()
        nodes = self._read_nodes()
        for path in _expand(paths, report):
            key = str(path.resolve())
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                report.failed[str(path)] = f"cannot read as UTF-8 text: {error}"
                continue
            if not text.strip():
                report.failed[str(path)] = "the file is empty"
                continue
            digest = hashlib.sha256(text.encode()).hexdigest()
            previous = manifest.get(key)
            if previous and previous["hash"] == digest:
                report.unchanged.append(str(path))
                continue
            for node_id in previous["node_ids"] if previous else []:
                nodes.pop(node_id, None)
            chunks = self._chunk(path, text)
            nodes.update({chunk.node_id: chunk.to_dict() for chunk in chunks})
            manifest[key] = {"hash": digest, "node_ids": [chunk.node_id for chunk in chunks]}
            (report.updated if previous else report.added).append(str(path))
        if report.changed:
            self._persist(manifest, nodes)
        return report

    def _chunk(self, path: Path, text: str) -> list[BaseNode]:
        document = Document(
            text=text,
            id_=str(path.resolve()),
            metadata={"file_name": path.name, "title": _title_of(path, text)},
            excluded_llm_metadata_keys=["file_name"],
        )
        splitter = SentenceSplitter(
            chunk_size=self._settings.chunk_size, chunk_overlap=self._settings.chunk_overlap
        )
        return splitter.get_nodes_from_documents([document])

    def _persist(self, manifest: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(self._dir / _NODES, json.dumps(nodes))
        if nodes:
            chunks = [_node_from_dict(data) for data in nodes.values()]
            # Built aside and swapped in, so a server reloading meanwhile never reads half of it.
            staging = self._dir / f"{_BM25_DIR}.new"
            shutil.rmtree(staging, ignore_errors=True)
            BM25Retriever.from_defaults(nodes=chunks, similarity_top_k=1).persist(str(staging))
            previous = self._dir / f"{_BM25_DIR}.old"
            shutil.rmtree(previous, ignore_errors=True)
            if (self._dir / _BM25_DIR).exists():
                (self._dir / _BM25_DIR).rename(previous)
            staging.rename(self._dir / _BM25_DIR)
            shutil.rmtree(previous, ignore_errors=True)
        # The manifest is written last: its change is what tells running servers to reload.
        _write_atomically(self._dir / _MANIFEST, json.dumps(manifest, indent=1))

    def _read_manifest(self) -> dict[str, Any]:
        path = self._dir / _MANIFEST
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def _read_nodes(self) -> dict[str, dict[str, Any]]:
        path = self._dir / _NODES
        return dict(json.loads(path.read_text())) if path.exists() else {}


def _write_atomically(path: Path, text: str) -> None:
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_text(text)
    os.replace(staging, path)


def _node_from_dict(data: dict[str, Any]) -> BaseNode:
    from llama_index.core.schema import TextNode

    return TextNode.from_dict(data)


def _expand(paths: list[Path], report: IngestReport) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
            )
        elif not path.exists():
            report.failed[str(path)] = "no such file or folder"
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            report.failed[str(path)] = (
                f"unsupported type {path.suffix or '(none)'}: use .md or .txt"
            )
        else:
            files.append(path)
    return files


def _title_of(path: Path, text: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem.replace("-", " ").replace("_", " ")
