"""API keys as principals: create, list and revoke them; find the principal a key names.

Lookups are cached in this process for `auth.key_cache_ttl_s` (10 s by default), so a streamed
request costs no database round trip for its key: a key revoked by `citestream keys revoke`
(another process) stops working everywhere within that time, and at once in the process that
revoked it.
"""

from __future__ import annotations

from app.core.clock import Clock
from app.core.errors import NotFound
from app.core.principals import LOCAL_PRINCIPAL, Principal
from app.core.ttl_cache import TtlCache
from app.identity.keys import KeyRow, KeyStore, digest_of


class KeyService:
    """API keys and the principals they stand for."""

    def __init__(self, *, store: KeyStore, clock: Clock, cache_ttl_s: float) -> None:
        self._store = store
        self._cache: TtlCache[Principal | bool | None] = TtlCache(clock, cache_ttl_s)

    async def create(self, name: str, *, admin: bool = False) -> tuple[KeyRow, str]:
        """A new key: its row, and the key itself (shown once; only its digest is stored)."""
        created = await self._store.create(name, admin=admin)
        self._cache.clear()  # "no key exists yet" is cached too
        return created

    async def list_keys(self) -> list[KeyRow]:
        """Every key, without secrets."""
        return await self._store.list_keys()

    async def revoke(self, name_or_id: str) -> KeyRow:
        """Revoke a key by name or id."""
        revoked = await self._store.revoke(name_or_id)
        self._cache.clear()
        return revoked

    async def principal_for_key(self, key: str) -> Principal | None:
        """The principal of an active key; None for an unknown or revoked one."""
        digest = digest_of(key)

        async def load() -> Principal | None:
            return _principal(await self._store.find_active_by_digest(digest))

        value = await self._cache.get_or_load("d:" + digest, load)
        return value if isinstance(value, Principal) else None

    async def principal_by_id(self, principal_id: str) -> Principal | None:
        """The principal with this id while its key is active (what tokens and cookies name)."""

        async def load() -> Principal | None:
            row = await self._store.find(principal_id)
            return _principal(row if row is not None and row.id == principal_id else None)

        value = await self._cache.get_or_load("i:" + principal_id, load)
        return value if isinstance(value, Principal) else None

    async def any_active(self) -> bool:
        """Whether at least one key works (then every request needs one)."""

        async def load() -> bool:
            return await self._store.active_count() > 0

        return bool(await self._cache.get_or_load("any", load))

    async def owner_named(self, name: str | None) -> Principal:
        """The principal a command line names by key name or id; the local user for None."""
        if name is None:
            return LOCAL_PRINCIPAL
        row = await self._store.find(name)
        principal = _principal(row)
        if principal is None:
            raise NotFound(f"There is no active key named {name!r} (see `citestream keys list`).")
        return principal


def _principal(row: KeyRow | None) -> Principal | None:
    if row is None or not row.active:
        return None
    return Principal(id=row.id, name=row.name, admin=row.admin)
