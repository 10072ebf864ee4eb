"""Every process redacts: the console and the action/NLG server run as real processes at DEBUG,
get requests carrying planted markers (one makes the console print a traceback whose SQL
parameters hold the marker), and their whole output is scanned. The Rasa server process is
covered the same way by tests/e2e (it needs a trained model: `stack` logs it at --debug)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bot.runner import free_port
from tests.conftest import TEST_KEYS

ROOT = Path(__file__).resolve().parents[2]
SECRET = "action-secret-for-tests-0001"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(TEST_KEYS, HAVEN_ENV="dev", HAVEN_LOG_LEVEL="DEBUG", LOG_LEVEL="DEBUG", HAVEN_ACTION_SECRET=SECRET,
               HAVEN_DATABASE_URL=f"sqlite:///{tmp_path / 'haven.db'}", PYTHONPATH=str(ROOT))
    return env


def _wait(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the process exited during start-up")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the process did not start")


@pytest.fixture
def run(tmp_path: Path) -> Iterator[object]:
    procs: list[tuple[subprocess.Popen, Path]] = []  # type: ignore[type-arg]

    def start(cmd: list[str], health: str) -> Path:
        log = tmp_path / f"out-{len(procs)}.log"
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp_path), stdout=log.open("wb"), stderr=subprocess.STDOUT)
        procs.append((proc, log))
        _wait(health, proc)
        return log

    yield start
    for proc, _ in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _output(log: Path) -> bytes:
    time.sleep(1.0)  # let the process flush its last lines
    return log.read_bytes()


def test_console_tracebacks_carry_no_sql_parameters(run, haven_env: dict[str, str], tmp_path: Path) -> None:  # noqa: ANN001
    import sqlite3

    from bot.store.db import dispose_engines
    from bot.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'haven.db'}"
    upgrade(url)
    dispose_engines()
    with sqlite3.connect(tmp_path / "haven.db") as db:  # the login query will fail, naming its parameters
        db.execute("ALTER TABLE officers RENAME TO officers_gone")
    marker = "mrk" + secrets.token_hex(12)
    port = free_port()
    log = run([sys.executable, "-m", "uvicorn", "--factory", "bot.console.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--ws", "none", "--log-level", "debug"], f"http://127.0.0.1:{port}/health")
    resp = httpx.post(f"http://127.0.0.1:{port}/login", data={"prelogin": "p" * 24, "username": marker, "password": marker,
                      "code": "123456"}, cookies={"__Host-haven_prelogin": "p" * 24}, timeout=30)
    assert resp.status_code == 500
    out = _output(log)
    assert b"OperationalError" in out and b"do_execute" in out  # the traceback was printed...
    assert marker.encode() not in out  # ...without her (planted) words


def test_action_server_at_debug_logs_no_content(run) -> None:  # noqa: ANN001
    marker = "mrk" + secrets.token_hex(12)
    port = free_port()
    log = run([sys.executable, "-m", "bot.action_server", str(port)], f"http://127.0.0.1:{port}/health")
    tracker = {"sender_id": "dev-logs", "slots": {"language": "en", "services_query": marker},
               "latest_message": {"text": f"my words {marker}", "intent": {"name": "greet"}}, "events": []}
    headers = {"X-Haven-Action-Secret": SECRET}
    nlg = httpx.post(f"http://127.0.0.1:{port}/nlg", json={"response": "utter_main_menu", "tracker": tracker,
                     "arguments": {"note": marker}, "channel": {"name": "rest"}}, headers=headers, timeout=30)
    assert nlg.status_code == 200
    httpx.post(f"http://127.0.0.1:{port}/webhook", json={"next_action": "action_not_registered", "sender_id": "dev-logs",
               "tracker": tracker, "domain": {}}, headers=headers, timeout=30)
    out = _output(log)
    assert b"DEBUG" in out  # it did log at DEBUG
    assert marker.encode() not in out
