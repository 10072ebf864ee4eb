"""Browser test set-up: headless Chromium (Debian `chromium` + `chromium-driver`, installed with
apt-get when missing), Selenium, a live console (uvicorn, in a thread) and the fake provider.

Skips with a clear reason when Selenium is not installed or Chromium cannot be installed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from bot.settings import ROOT

OUTPUT = ROOT / "test-output" / "browser"
CHROMIUM = ("chromium", "chromium-browser")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")


def _find(names: tuple[str, ...]) -> Optional[str]:
    for name in names:
        path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if path:
            return path
    return None


def _apt_install() -> str:
    """Try to install chromium + chromium-driver; returns why it failed ('' on success)."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "not root, cannot apt-get install chromium chromium-driver"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(cmd)} failed ({type(exc).__name__})"
        if done.returncode != 0:
            return f"{' '.join(cmd)} exited {done.returncode}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """(browser, driver) paths; installs them once if missing, else skips."""
    pytest.importorskip("selenium", reason="Selenium is not installed in the venv (needs `selenium` from PyPI)")
    browser, driver = _find(CHROMIUM), _find(DRIVERS)
    if not (browser and driver):
        why = _apt_install()
        browser, driver = _find(CHROMIUM), _find(DRIVERS)
        if not (browser and driver):
            pytest.skip(f"headless Chromium unavailable: {why or 'chromium/chromedriver not found after install'}")
    return browser, driver


@pytest.fixture
def driver(chromium: tuple[str, str]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(chromium[1]), options=options)
    browser.set_page_load_timeout(20)
    yield browser
    browser.quit()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopThread:
    """An asyncio loop in a thread (for the fake provider's aiohttp server)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def fake_provider(haven_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The channels' fake Twilio provider; Haven's SMS channel points at it."""
    provider_module = pytest.importorskip("tests.fakes.provider", reason="tests/fakes/provider.py not available")
    runner = LoopThread()
    fake = runner.run(provider_module.FakeProvider().start())
    for key, value in {
        "HAVEN_TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "HAVEN_TWILIO_AUTH_TOKEN": "test-token",
        "HAVEN_TWILIO_SMS_FROM": "+15550000000", "HAVEN_TWILIO_API_BASE": fake.url,
    }.items():
        monkeypatch.setenv(key, value)
    from bot.settings import get_settings

    get_settings.cache_clear()
    yield fake
    runner.run(fake.stop())
    runner.stop()


@pytest.fixture
def live_console(db_url: str) -> Iterator[str]:
    """The real console app (real channels.outbound) served by uvicorn on localhost."""
    import uvicorn

    from bot.console.app import ConsoleConfig, create_app
    from bot.settings import get_settings
    from bot.store.db import get_engine

    app = create_app(get_settings(), config=ConsoleConfig(background_jobs=False), engine=get_engine(db_url))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           ws="none"))  # Rasa pins websockets 10, too old for uvicorn's ws
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "console did not start"
    # `localhost`, not 127.0.0.1: browsers treat it as a secure context, so __Host-/Secure cookies work
    yield f"http://localhost:{port}"
    server.should_exit = True
    thread.join(10)


def shot(browser: Any, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    browser.save_screenshot(str(path))
    return path
