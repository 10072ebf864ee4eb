"""Shared fixtures: isolated settings, and a migrated database on SQLite and (if set) PostgreSQL."""

from __future__ import annotations

import os
import secrets
import socket
from typing import Iterator

import pytest
from sanic import Sanic

# Sanic 21.12 rewrites Sanic.handle_request from its source at every app start-up (TouchUp). A
# second app started in the same process (the tests start several) then rewrites the rewritten
# method, has no source for it and fails start-up (KeyError in touchup/schemes/ode.py). In test
# mode TouchUp keeps and reuses the original; test_mode changes nothing else in Sanic 21.12.
Sanic.test_mode = True

# Keep every test offline: any attempt to reach a non-loopback address fails loudly.
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and self.family in (socket.AF_INET, socket.AF_INET6):
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            raise RuntimeError(f"test tried to reach the network: {host}")
    return _real_connect(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]

TEST_KEYS = {
    "HAVEN_MASTER_KEY": "dGVzdC1tYXN0ZXIta2V5LTAwMDAwMDAwMDAwMDAwMDA",
    "HAVEN_PSEUDONYM_KEY": "dGVzdC1wc2V1ZG9ueW0ta2V5LTAwMDAwMDAwMDAwMDA",
    # Rasa expands ${HAVEN_ACTION_SECRET} in endpoints.yml (bot.rasa_adapters.main sets it in the Rasa process).
    "HAVEN_ACTION_SECRET": "action-secret-for-tests-0001",
}


def _reset_caches() -> None:
    from bot.settings import get_settings
    from bot.store.db import dispose_engines

    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture
def haven_env(tmp_path, monkeypatch) -> Iterator[dict[str, str]]:
    """A clean HAVEN_* environment on a fresh SQLite file; returns the variables set."""
    for key in list(os.environ):
        if key.startswith("HAVEN_") and not key.startswith("HAVEN_TEST_"):
            monkeypatch.delenv(key, raising=False)
    env = dict(TEST_KEYS, HAVEN_DATABASE_URL=f"sqlite:///{tmp_path / 'haven.db'}", HAVEN_ENV="dev")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _reset_caches()
    yield env
    _reset_caches()


def _postgres_schema_url(base: str) -> tuple[str, str]:
    schema = "t_" + secrets.token_hex(6)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, haven_env, tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated database URL; runs once on SQLite and once on PostgreSQL (skipped if unset)."""
    from sqlalchemy import create_engine, text

    from bot.store.migrate import upgrade

    if request.param == "sqlite":
        url = haven_env["HAVEN_DATABASE_URL"]
        upgrade(url)
        yield url
        return
    base = os.environ.get("HAVEN_TEST_DATABASE_URL")
    if not base:
        pytest.skip("HAVEN_TEST_DATABASE_URL not set (PostgreSQL tests run in .ci/run)")
    url, schema = _postgres_schema_url(base)
    admin = create_engine(base, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    monkeypatch.setenv("HAVEN_DATABASE_URL", url)
    _reset_caches()
    try:
        upgrade(url)
        yield url
    finally:
        _reset_caches()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("HAVEN_TEST_REDIS_URL")
    if not url:
        pytest.skip("HAVEN_TEST_REDIS_URL not set (Redis tests run in .ci/run)")
    return url
