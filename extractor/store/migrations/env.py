"""Alembic environment of the store. Run by ``extractor.store.migrate`` (which passes a
connection in ``config.attributes``), or offline with ``sqlalchemy.url`` set."""
from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from extractor.store.engine import make_engine, normalise_url
from extractor.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kw: Any) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **kw)


def run_online(connection: Connection) -> None:
    # batch mode lets later revisions ALTER tables on SQLite (copy-and-move)
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _configure(url=normalise_url(config.get_main_option("sqlalchemy.url")), literal_binds=True,
               dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run_online(config.attributes["connection"])
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            run_online(conn)
    finally:
        engine.dispose()
