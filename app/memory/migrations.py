"""Apply the Alembic migrations in `alembic/` to a database."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command

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


def downgrade_to_base(database_url: str) -> None:
    """Remove every table the migrations created."""
    command.downgrade(alembic_config(database_url), "base")
