"""Engine and session factories for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def normalise_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` (psycopg2) as well as SQLite URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA secure_delete=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A new engine; SQLite gets WAL, busy_timeout, foreign keys and secure_delete on every connection."""
    url = normalise_url(url)
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if path and path != ":memory:":
            # SQLAlchemy 1.4 defaults file SQLite to NullPool: a new connection per session, and
            # closing the last one checkpoints the WAL (measured: 17.5 ms vs 0.9 ms per insert).
            kwargs.setdefault("poolclass", QueuePool)
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 20)
        # pysqlite's own transaction handling is replaced by explicit BEGIN (see session_scope).
        engine = create_engine(
            url,
            future=True,
            connect_args={"check_same_thread": False, "timeout": 10, "isolation_level": None},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        def _begin(conn: Any) -> None:
            mode = conn.info.pop("haven_begin", "BEGIN")
            conn.exec_driver_sql(mode)

        # event.listen, not @event.listens_for: the (untyped) decorator would erase _begin's type.
        event.listen(engine, "begin", _begin)

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, future=True, **kwargs)


def get_engine(url: Optional[str] = None) -> Engine:
    """The process-wide engine for `url` (default: settings.database_url), built on first use."""
    if url is None:
        from bot.settings import get_settings

        url = get_settings().database_url
    url = normalise_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(engine: Optional[Engine] = None) -> sessionmaker:
    return sessionmaker(bind=engine or get_engine(), future=True, expire_on_commit=False)


@contextmanager
def session_scope(engine: Optional[Engine] = None, immediate: bool = False) -> Iterator[Session]:
    """A short transaction: commit on success, roll back on error.

    `immediate=True` takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE), so read-then-write
    sequences cannot deadlock or be interleaved; on PostgreSQL it is a plain transaction
    (use SELECT ... FOR UPDATE SKIP LOCKED for row claims).
    """
    engine = engine or get_engine()
    with engine.connect() as conn:
        if immediate and engine.dialect.name == "sqlite":
            conn.info["haven_begin"] = "BEGIN IMMEDIATE"
        with Session(bind=conn, future=True, expire_on_commit=False) as session:
            with session.begin():
                yield session


def checkpoint_sqlite(engine: Optional[Engine] = None) -> None:
    """Fold the SQLite WAL into the main file and truncate it (after an erase)."""
    engine = engine or get_engine()
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
