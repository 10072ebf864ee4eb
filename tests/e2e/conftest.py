"""The running stack for end-to-end tests: trained model, action/NLG server, Rasa, temp database."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import TEST_KEYS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    rasa_url: str
    action_url: str
    database_url: str
    log_path: Path
    env: dict[str, str]

    def send(self, sender: str, message: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": sender, "message": message}
        if metadata:
            body["metadata"] = metadata
        resp = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
        resp.raise_for_status()
        return list(resp.json())


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot.model import train_if_needed

    return train_if_needed()


@pytest.fixture(scope="session")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Rasa + actions/NLG on free ports, SQLite in a temp folder, all output captured to a log
    file at DEBUG (tests grep it for planted markers)."""
    from bot.model import rasa_env
    from bot.runner import endpoints_for, services, start, stop
    from bot.store.migrate import upgrade

    folder = tmp_path_factory.mktemp("stack")
    db_url = f"sqlite:///{folder / 'haven.db'}"
    rasa_port, action_port = free_port(), free_port()
    env = {k: v for k, v in rasa_env().items() if not k.startswith("HAVEN_") or k.startswith("HAVEN_TEST_")}
    env.update(TEST_KEYS)
    env.update(HAVEN_DATABASE_URL=db_url, HAVEN_ENV="dev", HAVEN_LOG_LEVEL="DEBUG", LOG_LEVEL="DEBUG",
               HAVEN_DEFAULT_COUNTRY="KE")
    old = dict(os.environ)
    os.environ.update(env)
    from bot.settings import get_settings
    from bot.store.db import dispose_engines

    get_settings.cache_clear()
    upgrade(db_url)
    dispose_engines()
    svcs = [s for s in services(rasa_port, action_port, endpoints=endpoints_for(action_port, folder))
            if s.name != "console"]
    svcs[1].cmd += ["--debug"]
    log_path = folder / "stack.log"
    log = open(log_path, "wb")
    import subprocess

    for svc in svcs:  # start with output captured to the log file
        svc.proc = subprocess.Popen(svc.cmd, cwd=Path(__file__).resolve().parents[2], env=env,
                                    start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        start([], env=env)  # no-op; health wait below
        import time

        deadline = time.monotonic() + 240
        from bot.runner import _healthy

        for svc in svcs:
            while not _healthy(svc.health_url):
                if svc.proc.poll() is not None:
                    raise RuntimeError(f"{svc.name} died at start-up; see {log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{svc.name} did not start; see {log_path}")
                time.sleep(0.5)
        yield Stack(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{action_port}", db_url, log_path, env)
    finally:
        stop(svcs)
        log.close()
        os.environ.clear()
        os.environ.update(old)
        get_settings.cache_clear()
