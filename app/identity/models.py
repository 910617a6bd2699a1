"""The API keys table. The schema itself is created by Alembic migrations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    # The principal id: what sessions, runs, documents and collections name as their owner.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # SHA-256 of the whole key, hex. The key itself is never stored.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The key's first characters, so people can tell their keys apart in `keys list`.
    prefix: Mapped[str] = mapped_column(String(16))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
