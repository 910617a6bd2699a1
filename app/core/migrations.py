"""Apply the Alembic migrations in `alembic/` to a database."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from app.core.errors import CitestreamError

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    """An Alembic config for our migrations, aimed at `database_url`."""
    config = Config(str(_PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(_PROJECT_ROOT / "alembic"))
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Bring the schema up to date. Blocking: call it from a worker thread inside a running loop."""
    command.upgrade(alembic_config(database_url), "head")


class SchemaOutOfDate(CitestreamError):
    """The database schema is older than this version of Citestream needs."""

    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"The database schema is at revision {current or '(empty)'} but Citestream needs "
            f"{head}. Run `citestream db upgrade` (same CITESTREAM_DATABASE__URL), then start "
            "the server again.",
            "schema_out_of_date",
            503,
            "Schema out of date",
        )


def head_revision(database_url: str) -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert head is not None
    return head


async def ensure_schema_is_current(engine: AsyncEngine) -> None:
    """Refuse to run on a database whose schema is behind the code."""
    async with engine.connect() as connection:
        current = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    url = engine.url.render_as_string(hide_password=False)
    head = head_revision(url)
    if current == head:
        return
    known = {
        script.revision
        for script in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
    }
    if current is not None and current not in known:
        raise CitestreamError(
            f"The database schema is at revision {current}, which this version of Citestream "
            f"does not know (it ships up to {head}): the database was upgraded by a newer "
            "release. Run that release, or restore a matching backup.",
            "schema_too_new",
            503,
            "Schema newer than the code",
        )
    raise SchemaOutOfDate(current, head)


def downgrade_to_base(database_url: str) -> None:
    """Remove every table the migrations created."""
    command.downgrade(alembic_config(database_url), "base")
