"""Identity: API keys (stored as SHA-256 digests) and owners of documents and collections.

What existed before belonged to the only user there was, the local one: it keeps that owner.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCAL = "local"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("digest", name="uq_api_keys_digest"),
    )
    for table in ("collections", "documents"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("owner_id", sa.String(200), nullable=False, server_default=_LOCAL)
            )
        op.create_index(f"ix_{table}_owner_id", table, ["owner_id"])
    op.execute(
        sa.text(
            "UPDATE chat_sessions SET principal_id = :local WHERE principal_id IS NULL"
        ).bindparams(local=_LOCAL)
    )


def downgrade() -> None:
    for table in ("documents", "collections"):
        op.drop_index(f"ix_{table}_owner_id", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner_id")
    op.drop_table("api_keys")
