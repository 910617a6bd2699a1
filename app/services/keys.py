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
from app.identity.keys import KeyRow, KeyStore, digest_of

# Enough for every key a deployment has many times over; a flood of made-up keys cannot grow
# the cache past it.
_MAX_CACHED = 10_000


class _TtlCache:
    """A small map whose entries expire; bounded, cleared wholesale when full."""

    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, object]] = {}

    def get(self, key: str) -> tuple[bool, object]:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: str, value: object) -> None:
        if self._ttl_s <= 0:
            return
        if len(self._entries) >= _MAX_CACHED:
            self._entries.clear()
        self._entries[key] = (self._clock.monotonic() + self._ttl_s, value)

    def clear(self) -> None:
        self._entries.clear()


class KeyService:
    """API keys and the principals they stand for."""

    def __init__(self, *, store: KeyStore, clock: Clock, cache_ttl_s: float) -> None:
        self._store = store
        self._cache = _TtlCache(clock, cache_ttl_s)

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
        hit, value = self._cache.get("d:" + digest)
        if not hit:
            value = _principal(await self._store.find_active_by_digest(digest))
            self._cache.put("d:" + digest, value)
        return value if isinstance(value, Principal) else None

    async def principal_by_id(self, principal_id: str) -> Principal | None:
        """The principal with this id while its key is active (what tokens and cookies name)."""
        hit, value = self._cache.get("i:" + principal_id)
        if not hit:
            row = await self._store.find(principal_id)
            value = _principal(row if row is not None and row.id == principal_id else None)
            self._cache.put("i:" + principal_id, value)
        return value if isinstance(value, Principal) else None

    async def any_active(self) -> bool:
        """Whether at least one key works (then every request needs one)."""
        hit, value = self._cache.get("any")
        if not hit:
            value = await self._store.active_count() > 0
            self._cache.put("any", value)
        return bool(value)

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
