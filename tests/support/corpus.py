"""A tiny knowledge base written by the tests, so answers can be checked exactly."""

from __future__ import annotations

from pathlib import Path

DOCUMENTS = {
    "cancellation.md": (
        "# Cancelling a stream\n\n"
        "To cancel a stream, close the connection. The server notices the disconnect and stops "
        "the model within one token. The partial answer is saved as interrupted.\n"
    ),
    "heartbeats.md": (
        "# Heartbeats\n\n"
        "The server sends a heartbeat comment every fifteen seconds so proxies keep the "
        "connection open while the model is thinking.\n"
    ),
    "penguins.txt": (
        "Emperor penguins breed during the Antarctic winter and huddle together for warmth.\n"
    ),
}


def write_corpus(folder: Path) -> Path:
    """Write the documents into `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
