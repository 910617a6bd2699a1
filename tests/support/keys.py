"""API keys for tests: made through the server's own key service, sent as Bearer headers."""

from __future__ import annotations

from pathlib import Path

from app.cli.local_files import ingest_paths
from app.container import Container


async def create_key(container: Container, name: str, *, admin: bool = False) -> str:
    """A new key in the container's database (the server sees it at once)."""
    _, key = await container.key_service().create(name, admin=admin)
    return key


async def create_key_owning(container: Container, name: str, folder: Path) -> str:
    """A new key that owns a collection named `name` holding the files in `folder`, as
    `citestream ingest --collection NAME --owner NAME` makes one: a key's questions search only
    collections it owns, so this is how a key's question reaches the model."""
    key = await create_key(container, name)
    principal = await container.key_service().principal_for_key(key)
    assert principal is not None
    await ingest_paths(container, [folder], name, principal)
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
