"""Engines and sessions of the read model: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from readmodel.errors import ReadModelError


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL, ``synchronous=NORMAL`` and memory-mapped reads
    on every connection and may be shared by threads (uvicorn's thread pool, the indexer).

    The pool keeps as many connections as the thread pool runs requests (40): a connection opened
    for a burst and closed after it would start again from a cold page cache and re-run the pragmas.
    """
    if url.startswith("sqlite"):
        if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
            kwargs = {"pool_size": 40, "max_overflow": 10, **kwargs}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA cache_size=-65536")
            # readers share the OS page cache instead of each copying pages into its own
            cursor.execute("PRAGMA mmap_size=1073741824")
            cursor.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def scratch_database(server_url: str, prefix: str = "ets_t") -> Iterator[str]:
    """A new, empty PostgreSQL database on the server at ``server_url`` (tests, benchmarks):
    yields its URL and drops it afterwards, even with connections still open."""
    import uuid

    from sqlalchemy import make_url, text
    from sqlalchemy.pool import NullPool

    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def require_schema(engine: Engine) -> None:
    """Check the read model is migrated.

    Raises:
        ReadModelError: the schema is missing (run ``ets index migrate``).
    """
    if not inspect(engine).has_table("events"):
        raise ReadModelError(f"the read model at {engine.url!r} has no schema: run `ets index migrate`")
