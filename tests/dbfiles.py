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
