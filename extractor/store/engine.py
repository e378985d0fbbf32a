"""Database URLs and engines. SQLite (the default, a file) and PostgreSQL through psycopg 3."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_URL = "sqlite:///extractor.db"  # in the current directory
URL_ENV = "EXTRACTOR_DB_URL"

# execution option: on SQLite, start the transaction with BEGIN IMMEDIATE (take the write lock first)
SQLITE_IMMEDIATE = "extractor_sqlite_immediate"


def normalise_url(url: Optional[str] = None) -> str:
    """The SQLAlchemy URL for ``url``: ``$EXTRACTOR_DB_URL`` or ``sqlite:///extractor.db`` when none is
    given; a plain file path means a SQLite file there; ``postgresql://`` / ``postgres://`` (libpq style)
    use the psycopg 3 driver."""
    url = url or os.environ.get(URL_ENV) or DEFAULT_URL
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: Optional[str] = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (see ``normalise_url``). SQLite gets foreign keys enforced, WAL journal
    for file databases, a 30 s busy timeout, and real transactions (DDL included) emitted by
    SQLAlchemy instead of the sqlite3 module's implicit ones."""
    u = make_url(normalise_url(url))
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, connect_args={"timeout": 30}, **kwargs)
        _sqlite_transactions(engine, wal=bool(u.database) and u.database != ":memory:")
        return engine
    return create_engine(u, pool_pre_ping=True, **kwargs)


def _sqlite_transactions(engine: Engine, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the sqlite3 module leaves transactions to us
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA busy_timeout = 30000")
        if wal:
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(SQLITE_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
