"""A running Haven cluster for the proof tests: PostgreSQL schema, Redis, HAProxy, 2 Rasa replicas,
1 action/NLG server, 2 consoles, and the fake provider. Skips, saying why, when a piece is absent."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

from bot.runner import free_port
from tests.channels.conftest import PUBLIC_URL, SMS_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.conftest import TEST_KEYS

if TYPE_CHECKING:
    from bot.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
LOCK_LIFETIME = 10  # Rasa's TICKET_LOCK_LIFETIME for the replicas; renewed while a replica lives


def cluster_prerequisites() -> tuple[str, str]:
    """(database URL, Redis URL), or skip with the reason."""
    from bot.cluster import HAPROXY_MISSING, haproxy_binary

    db, redis = os.environ.get("HAVEN_TEST_DATABASE_URL"), os.environ.get("HAVEN_TEST_REDIS_URL")
    if not db:
        pytest.skip("cluster tests need PostgreSQL: HAVEN_TEST_DATABASE_URL not set (they run in .ci/run)")
    if not redis:
        pytest.skip("cluster tests need Redis: HAVEN_TEST_REDIS_URL not set (they run in .ci/run)")
    if haproxy_binary() is None:
        pytest.skip("cluster tests need HAProxy: " + HAPROXY_MISSING)
    return db, redis


def require_model() -> None:
    """Skip unless a trained model exists (the Rasa replicas need one; the consoles do not)."""
    from bot.model import MODEL_PATH

    if not MODEL_PATH.exists():
        pytest.skip("cluster tests need a trained model (make test trains it first)")


class Provider:
    """The fake Twilio/Telegram provider in its own process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.provider", "--port", str(self.port)],
                                     cwd=ROOT, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="package")
def cluster_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for one cluster: a fresh PostgreSQL schema (migrated once), Redis, Twilio against the fake."""
    from sqlalchemy import create_engine, text

    from bot.model import rasa_env
    from bot.settings import get_settings
    from bot.store.db import dispose_engines
    from bot.store.migrate import upgrade

    base, redis_url = cluster_prerequisites()
    schema = "t_" + secrets.token_hex(6)
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    admin = create_engine(base, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    provider = Provider()
    env = {k: v for k, v in rasa_env().items() if not k.startswith("HAVEN_") or k.startswith("HAVEN_TEST_")}
    env.update(TEST_KEYS, TICKET_LOCK_LIFETIME=str(LOCK_LIFETIME), HAVEN_ENV="dev", HAVEN_DATABASE_URL=url, HAVEN_REDIS_URL=redis_url, HAVEN_LOG_LEVEL="WARNING",
               HAVEN_DEFAULT_COUNTRY="KE", HAVEN_PUBLIC_URL=PUBLIC_URL, HAVEN_TWILIO_ACCOUNT_SID=TWILIO_SID,
               HAVEN_TWILIO_AUTH_TOKEN=TWILIO_TOKEN, HAVEN_TWILIO_SMS_FROM=SMS_FROM,
               HAVEN_TWILIO_API_BASE=provider.url, HAVEN_FAKE_PROVIDER_URL=provider.url)
    saved = dict(os.environ)
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        upgrade(url)  # migrations once, before any replica starts
        yield env
    finally:
        provider.stop()
        dispose_engines()
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="package")
def haven_cluster(cluster_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator["Cluster"]:
    """2 Rasa replicas (Haven's atomic Redis lock), 1 action/NLG server, 2 consoles, behind HAProxy."""
    from bot.cluster import cluster

    require_model()
    folder = str(tmp_path_factory.mktemp("cluster"))
    with cluster(folder, rasa=2, actions=1, consoles=2, env=cluster_env, log_path=os.path.join(folder, "cluster.log")) as info:
        yield info
