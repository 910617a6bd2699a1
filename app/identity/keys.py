"""Storing and finding API keys.

Keys are 256-bit random tokens, so a plain SHA-256 digest is enough: slow password hashes
(bcrypt, Argon2) exist to make guessing *low-entropy* secrets from a stolen table expensive,
and nobody can enumerate 2^256 candidates however fast each guess is. A fast digest also lets
a lookup be one indexed equality query instead of a deliberately slow computation per request.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.core.clock import Clock
from app.core.database import Database, as_utc
from app.core.errors import Conflict, InvalidInput, NotFound
from app.identity.models import ApiKey

KEY_PREFIX = "cs_"
_DISPLAY_CHARS = 10  # "cs_" and 7 random characters
MAX_NAME_CHARS = 100


def new_key() -> str:
    """A fresh API key: `cs_` and 43 URL-safe characters (32 random bytes)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest_of(key: str) -> str:
    """What is stored and looked up for a key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRow:
    """A stored key, without its secret."""

    id: str
    name: str
    prefix: str
    admin: bool
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyStore:
    """Creates, lists, revokes and finds API keys in SQLite or PostgreSQL."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    async def create(self, name: str, *, admin: bool = False) -> tuple[KeyRow, str]:
        """A new key named `name`: its row and the key itself (shown once, never stored)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise InvalidInput(
                f"A key's name must have 1 to {MAX_NAME_CHARS} characters.", field_name="name"
            )
        key = new_key()
        row = ApiKey(
            id=uuid.uuid4().hex,
            name=name,
            digest=digest_of(key),
            prefix=key[:_DISPLAY_CHARS],
            admin=admin,
            created_at=self._clock.now(),
        )
        try:
            async with self._database.session() as db:
                db.add(row)
                await db.flush()
                return _row(row), key
        except IntegrityError:
            raise Conflict(f"There is already a key named {name!r}.") from None

    async def list_keys(self) -> list[KeyRow]:
        """Every key, revoked ones too, oldest first."""
        async with self._database.reading() as db:
            rows = (await db.scalars(select(ApiKey).order_by(ApiKey.created_at))).all()
        return [_row(row) for row in rows]

    async def revoke(self, name_or_id: str) -> KeyRow:
        """Revoke a key by its name or id (it stops working within the cache's TTL)."""
        async with self._database.session() as db:
            row = await db.scalar(
                select(ApiKey).where(or_(ApiKey.name == name_or_id, ApiKey.id == name_or_id))
            )
            if row is None:
                raise NotFound(f"There is no key named {name_or_id!r}.")
            if row.revoked_at is None:
                await db.execute(
                    update(ApiKey)
                    .where(ApiKey.id == row.id)
                    .values(revoked_at=self._clock.now())
                    .execution_options(synchronize_session=False)
                )
                await db.refresh(row)
            return _row(row)

    async def find_active_by_digest(self, digest: str) -> KeyRow | None:
        """The active key with this digest, if any."""
        async with self._database.reading() as db:
            row = await db.scalar(
                select(ApiKey).where(ApiKey.digest == digest, ApiKey.revoked_at.is_(None))
            )
        return None if row is None else _row(row)

    async def find(self, name_or_id: str) -> KeyRow | None:
        """A key by its id or name, active or not."""
        async with self._database.reading() as db:
            row = await db.scalar(
                select(ApiKey).where(or_(ApiKey.id == name_or_id, ApiKey.name == name_or_id))
            )
        return None if row is None else _row(row)

    async def active_count(self) -> int:
        """How many keys work now."""
        async with self._database.reading() as db:
            count = await db.scalar(
                select(func.count(ApiKey.id)).where(ApiKey.revoked_at.is_(None))
            )
        return int(count or 0)


def _row(row: ApiKey) -> KeyRow:
    return KeyRow(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        admin=bool(row.admin),
        created_at=as_utc(row.created_at),
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
    )
