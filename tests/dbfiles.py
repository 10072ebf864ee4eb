"""What an attacker holding the database would have: raw file bytes, or a PostgreSQL dump."""

from __future__ import annotations

import subprocess
from pathlib import Path


def raw_bytes(url: str) -> bytes:
    """SQLite: the main, -wal and -shm files' bytes. PostgreSQL: a data-only pg_dump of the
    test schema (the URL carries `options=-csearch_path=<schema>`)."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())
    base, _, query = url.partition("?")
    schema = query.split("search_path%3D", 1)[1]
    dump = subprocess.run(["pg_dump", "--schema", schema, "--data-only", base], capture_output=True, check=True)
    return dump.stdout


def pg_table_files(url: str) -> bytes:
    """PostgreSQL: VACUUM the test schema's tables, CHECKPOINT, then read the raw files of every
    relation in it (heap, indexes, TOAST): what a copy of the data directory would show, dead
    tuples' leftovers included. Needs a local server whose data directory this user can read."""
    from sqlalchemy import create_engine, text

    base, _, query = url.partition("?")
    schema = query.split("search_path%3D", 1)[1]
    engine = create_engine(base, future=True, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            data_dir = Path(conn.execute(text("SHOW data_directory")).scalar_one())
            tables = conn.execute(
                text("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = :s AND c.relkind = 'r'"), {"s": schema}
            ).scalars().all()
            for table in tables:
                conn.execute(text(f'VACUUM "{schema}"."{table}"'))
            conn.execute(text("CHECKPOINT"))
            paths = conn.execute(
                text("SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = :s AND c.relkind IN ('r', 'i', 't') "
                     "UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.reltoastrelid <> 0"),
                {"s": schema},
            ).scalars().all()
    finally:
        engine.dispose()
    chunks = []
    for rel in paths:
        if rel is None:
            continue
        name = Path(rel).name
        for path in sorted((data_dir / rel).parent.glob(name + "*")):
            if path.name == name or path.name.startswith((name + ".", name + "_")):  # segments, fsm/vm forks
                chunks.append(path.read_bytes())
    return b"".join(chunks)
