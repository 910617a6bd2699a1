"""API keys for tests: made through the server's own key service, sent as Bearer headers."""

from __future__ import annotations

from app.container import Container


async def create_key(container: Container, name: str, *, admin: bool = False) -> str:
    """A new key in the container's database (the server sees it at once)."""
    _, key = await container.key_service().create(name, admin=admin)
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
