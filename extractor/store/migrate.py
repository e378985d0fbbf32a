"""Alembic, run from code: the migrations ship inside the package (``migrations/``) and the
Config is built here, so no alembic.ini is needed at run time."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).resolve().with_name("migrations")


def alembic_config(connection: Optional[Connection] = None, url: Optional[str] = None) -> Config:
    """An Alembic Config for the packaged migrations; ``connection`` (or ``url``) is the database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (all in one transaction)."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def current_revision(engine: Engine) -> Optional[str]:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def new_revision(engine: Engine, message: str, autogenerate: bool = True) -> None:
    """For developers: write a new revision file into ``migrations/versions`` from the difference
    between ``schema.py`` and the database (which must be at head)."""
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=autogenerate)
