"""`haven run`: migrate, train if stale, start Rasa (:5005), actions+NLG (:5055), console (:8080).

Waits for all three health checks, prints how to talk to the bot, and stops all three on
Ctrl-C (or when any one of them dies, saying which).
"""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Iterator, Optional
from urllib.error import URLError
from urllib.request import urlopen

from bot.settings import ROOT, get_settings


@dataclass
class Service:
    name: str
    cmd: list[str]
    health_url: str
    proc: Optional[subprocess.Popen] = field(default=None, repr=False)  # type: ignore[type-arg]


def endpoints_for(action_port: int, folder: "os.PathLike[str] | str") -> str:
    """endpoints.yml rewritten for another action/NLG port (tests, benchmarks); returns its path."""
    text = (ROOT / "endpoints.yml").read_text().replace("127.0.0.1:5055", f"127.0.0.1:{action_port}")
    path = os.path.join(folder, f"endpoints-{action_port}.yml")
    with open(path, "w") as fh:
        fh.write(text)
    return path


def services(
    rasa_port: int = 5005,
    action_port: int = 5055,
    console_port: Optional[int] = None,
    endpoints: str = "endpoints.yml",
) -> list[Service]:
    """The three processes of an embedded Haven."""
    from bot.model import MODEL_PATH

    console_port = console_port or get_settings().console_port
    py = sys.executable
    if importlib.util.find_spec("bot.console.app") is not None:
        console_app = "bot.console.app:create_app"
    else:
        console_app = "bot.placeholder_console:create_app"
    return [
        Service("actions+nlg", [py, "-m", "bot.action_server", str(action_port)], f"http://127.0.0.1:{action_port}/health"),
        Service(
            "rasa",
            [py, "-m", "bot.rasa_adapters.main", "run", "--model", str(MODEL_PATH), "--endpoints", endpoints,
             "--credentials", "credentials.yml", "--port", str(rasa_port), "--interface", "127.0.0.1"],
            f"http://127.0.0.1:{rasa_port}/",
        ),
        Service(
            "console",
            [py, "-m", "uvicorn", "--factory", console_app, "--host", "127.0.0.1", "--port", str(console_port),
             # no websockets (Rasa pins websockets 10.4, too old for uvicorn's); the console uses SSE
             # the console reads X-Forwarded-For itself, only from HAVEN_TRUSTED_PROXIES (not from loopback)
             "--ws", "none", "--no-proxy-headers", "--no-access-log", "--log-level", "warning"],
            f"http://127.0.0.1:{console_port}/health",
        ),
    ]


def _healthy(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
            status: int = resp.status
            return 200 <= status < 500
    except (URLError, OSError, ValueError):
        return False


def start(svcs: list[Service], timeout: float = 240.0, env: Optional[dict[str, str]] = None,
          quiet: bool = False, output: Optional[IO[bytes]] = None) -> None:
    """Start every service and wait until all answer their health check.

    Output goes to the terminal, or to `output` (stdout and stderr together), or nowhere if `quiet`.
    """
    from bot.model import rasa_env

    env = env or rasa_env()
    out: Any = output if output is not None else (subprocess.DEVNULL if quiet else None)
    err: Any = subprocess.STDOUT if output is not None else out
    for svc in svcs:
        svc.proc = subprocess.Popen(svc.cmd, cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=err)
    deadline = time.monotonic() + timeout
    pending = list(svcs)
    while pending:
        for svc in list(pending):
            if svc.proc is not None and svc.proc.poll() is not None:
                raise RuntimeError(f"{svc.name} exited during start-up (code {svc.proc.returncode})")
            if _healthy(svc.health_url):
                if not quiet:
                    print(f"==> {svc.name} is up ({svc.health_url.rsplit('/', 1)[0]})", flush=True)
                pending.remove(svc)
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for: " + ", ".join(s.name for s in pending))
        time.sleep(0.5)


def stop(svcs: list[Service], grace: float = 15.0) -> None:
    """SIGTERM every process group, then SIGKILL whatever is left after `grace` seconds."""
    for svc in svcs:
        if svc.proc is not None and svc.proc.poll() is None:
            try:
                os.killpg(svc.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for svc in svcs:
        if svc.proc is None:
            continue
        try:
            svc.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(svc.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            svc.proc.wait()


def prepare(no_train: bool = False) -> None:
    """Migrate, load the demo directory when empty, and train the model if needed."""
    from bot.model import MODEL_PATH, train_if_needed
    from bot.store.migrate import upgrade

    upgrade()
    print("==> database migrated", flush=True)
    if importlib.util.find_spec("bot.directory.demo") is not None:
        from bot.directory.demo import ensure_demo_loaded

        loaded = ensure_demo_loaded()
        if loaded:
            print(f"==> loaded the synthetic demo directory ({loaded} services, fictional)", flush=True)
    if no_train:
        if not MODEL_PATH.exists():
            raise SystemExit("error: no trained model; run without --no-train")
    else:
        train_if_needed()


def run_all(no_train: bool = False) -> int:
    settings = get_settings()
    prepare(no_train)
    svcs = services(console_port=settings.console_port)
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)  # the terminal was closed
    try:
        start(svcs)
        enabled = [n for n, on in (("sms", settings.sms_enabled), ("whatsapp", settings.whatsapp_enabled),
                                    ("telegram", settings.telegram_enabled)) if on]
        print(
            "\nHaven is running.\n"
            "  Talk to it:      .venv/bin/haven chat      (in another terminal)\n"
            f"  Officer console: http://127.0.0.1:{settings.console_port}/\n"
            f"  Channels:        rest{''.join(', ' + n for n in enabled)}"
            f"{'' if enabled else '  (set HAVEN_TWILIO_* / HAVEN_TELEGRAM_* to enable SMS, WhatsApp, Telegram)'}\n"
            "  Stop:            Ctrl-C\n",
            flush=True,
        )
        while not stopping:
            for svc in svcs:
                if svc.proc is not None and svc.proc.poll() is not None:
                    print(f"error: {svc.name} stopped unexpectedly (code {svc.proc.returncode}); stopping Haven",
                          file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        # Stop first: a print can fail (stdout piped to a reader that Ctrl-C already killed) and
        # must never leave the three servers running.
        stop(svcs)
        _say("==> Haven stopped")


def _say(message: str) -> None:
    try:
        print(message, flush=True)
    except (BrokenPipeError, OSError):
        pass


@dataclass
class TempStack:
    """A running Rasa + actions/NLG (+ console) on free ports over a throwaway SQLite database."""

    rasa_url: str
    action_url: str
    console_url: Optional[str]
    database_url: str
    env: dict[str, str]
    log_path: Optional[str]
    services: list[Service]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def temp_stack(folder: str, extra_env: Optional[dict[str, str]] = None, console: bool = False,
               log_path: Optional[str] = None, rasa_debug: bool = False,
               timeout: float = 300.0) -> Iterator[TempStack]:
    """Start a private stack (tests, benchmarks) and stop it on exit.

    The environment is the current one without HAVEN_* (except HAVEN_TEST_*), plus `extra_env`
    and a fresh SQLite database under `folder`. Output goes to `log_path` (or is discarded).
    """
    from bot.model import rasa_env
    from bot.store.db import dispose_engines
    from bot.store.migrate import upgrade

    db_url = f"sqlite:///{os.path.join(folder, 'haven.db')}"
    env = {k: v for k, v in rasa_env().items() if not k.startswith("HAVEN_") or k.startswith("HAVEN_TEST_")}
    env.update({"HAVEN_DATABASE_URL": db_url, "HAVEN_ENV": "dev"})
    env.update(extra_env or {})
    rasa_port, action_port = free_port(), free_port()
    console_port = free_port() if console else None
    env["HAVEN_RASA_URL"] = f"http://127.0.0.1:{rasa_port}"
    env["HAVEN_ACTION_URL"] = f"http://127.0.0.1:{action_port}"
    saved = dict(os.environ)
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        upgrade(db_url)
    finally:
        dispose_engines()
    svcs = services(rasa_port, action_port, console_port or free_port(), endpoints=endpoints_for(action_port, folder))
    if not console:
        svcs = [s for s in svcs if s.name != "console"]
    if rasa_debug:
        next(s for s in svcs if s.name == "rasa").cmd.append("--debug")
    log = open(log_path, "ab") if log_path else None
    try:
        try:
            start(svcs, timeout, env, quiet=True, output=log)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc} (see {log_path or 'its output'})") from exc
        yield TempStack(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{action_port}",
                        f"http://127.0.0.1:{console_port}" if console else None, db_url, env, log_path, svcs)
    finally:
        stop(svcs)
        if log is not None:
            log.close()
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
