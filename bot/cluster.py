"""`haven cluster`: N Rasa replicas, M action/NLG servers and K consoles behind HAProxy, on one machine.

Needs PostgreSQL (HAVEN_DATABASE_URL) and Redis (HAVEN_REDIS_URL, the atomic lock store) and the
`haproxy` binary (Debian package `haproxy`). Webhooks go to HAProxy's Rasa frontend (5005), Rasa
reaches actions through HAProxy (5055; responses render in the Rasa process), officers reach the consoles through HAProxy
(8080). HAProxy health-checks every replica; stopping drains each one (no new requests, wait for
the ones in flight) before SIGTERM. Processes are started, awaited and stopped by bot/runner.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from string import Template
from typing import IO, Iterator, Optional

from bot.runner import Service, endpoints_for, free_port, services, start, stop
from bot.settings import ROOT, get_settings

TEMPLATE = ROOT / "bot" / "haproxy.cfg.template"
HAPROXY_MISSING = ("haproxy is not installed: `sudo apt-get install -y haproxy` (Debian/Ubuntu), "
                   "or run `scripts/bootstrap.sh --cluster`, which installs it where apt-get is available")
BACKENDS = {"rasa": "rasa", "actions+nlg": "actions", "console": "console"}


class ClusterError(RuntimeError):
    """The cluster cannot start (missing prerequisite, a replica did not come up)."""


def haproxy_binary() -> Optional[str]:
    """The haproxy executable, or None."""
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                            if os.access(p, os.X_OK)), None)


@dataclass
class Replica:
    """One replica process and its HAProxy server entry."""

    service: Service
    backend: str
    server: str
    port: int


@dataclass
class Cluster:
    """A running cluster: the load balancer's URLs, the replicas, HAProxy's runtime socket."""

    rasa_url: str
    action_url: str
    console_url: str
    database_url: str
    env: dict[str, str]
    log_path: Optional[str]
    replicas: list[Replica]
    haproxy: Service
    runtime_socket: str
    folder: str
    services: list[Service] = field(default_factory=list)

    def of(self, backend: str) -> list[Replica]:
        return [r for r in self.replicas if r.backend == backend]

    # ---- HAProxy runtime API
    def admin(self, command: str) -> str:
        """One command on HAProxy's runtime API (stats socket); its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(self.runtime_socket)
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode()

    def server_stats(self) -> dict[tuple[str, str], dict[str, str]]:
        """(backend, server) -> HAProxy's stats row (status, scur = requests in flight, ...)."""
        lines = self.admin("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = {}
        for line in lines[1:]:
            if line.strip():
                row = dict(zip(header, line.split(",")))
                rows[(row["pxname"], row["svname"])] = row
        return rows

    def drain(self, replica: Replica, grace: float = 30.0) -> bool:
        """Stop sending new requests to `replica`; wait until its in-flight requests finish."""
        self.admin(f"set server {replica.backend}/{replica.server} state drain")
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            row = self.server_stats().get((replica.backend, replica.server), {})
            if row.get("scur", "0") in ("0", ""):
                return True
            time.sleep(0.1)
        return False

    def stop_replica(self, replica: Replica, grace: float = 30.0) -> None:
        """Drain, then stop one replica (a rolling restart's first half)."""
        self.drain(replica, grace)
        stop([replica.service])

    def wait_status(self, replica: Replica, status_prefix: str, timeout: float = 15.0) -> bool:
        """Wait until HAProxy reports `replica` with a status starting with e.g. "UP" or "DOWN"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.server_stats().get((replica.backend, replica.server), {})
            if row.get("status", "").startswith(status_prefix):
                return True
            time.sleep(0.2)
        return False


def _server_lines(replicas: list[Replica]) -> str:
    return "\n".join(f"    server {r.server} 127.0.0.1:{r.port}" for r in replicas)


def render_config(ports: dict[str, int], replicas: list[Replica], runtime_socket: str) -> str:
    """HAProxy's configuration from the template in the repository."""
    return Template(TEMPLATE.read_text()).substitute(
        runtime_socket=runtime_socket, health_port=ports["health"], rasa_port=ports["rasa"],
        action_port=ports["actions"], console_port=ports["console"],
        rasa_servers=_server_lines([r for r in replicas if r.backend == "rasa"]),
        action_servers=_server_lines([r for r in replicas if r.backend == "actions"]),
        console_servers=_server_lines([r for r in replicas if r.backend == "console"]),
    )


def stock_lock_store(endpoints_path: str, redis_url: str) -> None:
    """Point an endpoints file at Rasa's stock RedisLockStore (the benchmarks' and tests' baseline)."""
    from urllib.parse import urlparse

    parsed = urlparse(redis_url)
    text = open(endpoints_path).read()
    head, _, _ = text.partition("lock_store:")
    with open(endpoints_path, "w") as fh:
        fh.write(head + f"lock_store:\n  type: redis\n  url: {parsed.hostname}\n  port: {parsed.port or 6379}\n"
                        f"  db: {int(parsed.path.lstrip('/') or 1)}\n  key_prefix: havenstock\n")


def check_prerequisites(env: dict[str, str]) -> None:
    if not env.get("HAVEN_DATABASE_URL", "").startswith("postgresql"):
        raise ClusterError("haven cluster needs PostgreSQL: set HAVEN_DATABASE_URL=postgresql://...")
    if not env.get("HAVEN_REDIS_URL"):
        raise ClusterError("haven cluster needs Redis for the shared lock store: set HAVEN_REDIS_URL=redis://...")
    if haproxy_binary() is None:
        raise ClusterError(HAPROXY_MISSING)


@contextmanager
def cluster(folder: str, rasa: int = 2, actions: int = 1, consoles: int = 2, env: Optional[dict[str, str]] = None,
            ports: Optional[dict[str, int]] = None, log_path: Optional[str] = None, quiet: bool = True,
            lock_store: str = "haven", timeout: float = 300.0) -> Iterator[Cluster]:
    """Start a cluster (database already migrated) and stop it, draining every replica, on exit."""
    from bot.model import rasa_env

    env = dict(env or rasa_env())
    check_prerequisites(env)
    ports = dict(ports or {})
    for name in ("rasa", "actions", "console", "health"):
        ports.setdefault(name, free_port())
    env["HAVEN_RASA_URL"] = f"http://127.0.0.1:{ports['rasa']}"
    env["HAVEN_ACTION_URL"] = f"http://127.0.0.1:{ports['actions']}"
    endpoints = endpoints_for(ports["actions"], folder)  # Rasa reaches the actions through HAProxy
    if lock_store == "stock":
        stock_lock_store(endpoints, env["HAVEN_REDIS_URL"])
    replicas: list[Replica] = []
    for kind, count, backend in (("actions+nlg", actions, "actions"), ("rasa", rasa, "rasa"), ("console", consoles, "console")):
        for i in range(1, count + 1):
            port = free_port()
            by_kind = {s.name: s for s in services(rasa_port=port, action_port=port, console_port=port, endpoints=endpoints)}
            svc = by_kind[kind]
            svc.name = f"{backend}{i}"
            replicas.append(Replica(svc, backend, svc.name, port))
    runtime_socket = os.path.join(folder, "haproxy.sock")
    cfg_path = os.path.join(folder, "haproxy.cfg")
    with open(cfg_path, "w") as fh:
        fh.write(render_config(ports, replicas, runtime_socket))
    haproxy = Service("haproxy", [str(haproxy_binary()), "-db", "-f", cfg_path], f"http://127.0.0.1:{ports['health']}/health")
    log: Optional[IO[bytes]] = open(log_path, "ab") if log_path else None
    every = [haproxy] + [r.service for r in replicas]
    info = Cluster(env["HAVEN_RASA_URL"], env["HAVEN_ACTION_URL"], f"http://127.0.0.1:{ports['console']}",
                   env["HAVEN_DATABASE_URL"], env, log_path, replicas, haproxy, runtime_socket, folder, every)
    try:
        # Replicas first (HAProxy's first checks would only report them DOWN), then HAProxy.
        start([r.service for r in replicas], timeout, env, quiet=quiet, output=log)
        start([haproxy], 30, env, quiet=quiet, output=log)
        for replica in replicas:
            if not info.wait_status(replica, "UP", 30):
                raise ClusterError(f"HAProxy does not see {replica.server} as healthy")
        yield info
    finally:
        try:
            if haproxy.proc is not None and haproxy.proc.poll() is None:
                for replica in replicas:
                    info.admin(f"set server {replica.backend}/{replica.server} state drain")
                for replica in replicas:
                    info.drain(replica, grace=15)
        except OSError:
            pass
        stop([r.service for r in replicas])
        stop([haproxy])
        if log is not None:
            log.close()


def run_cluster(rasa: int, actions: int, consoles: int, no_train: bool = False) -> int:
    """The foreground `haven cluster`: prepare once, start everything, Ctrl-C stops everything."""
    from bot.model import rasa_env
    from bot.runner import prepare

    settings = get_settings()
    env = rasa_env()
    try:
        check_prerequisites(env)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    prepare(no_train)  # migrations run here, once, before any replica starts
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    from urllib.parse import urlparse

    ports = {"rasa": urlparse(settings.rasa_url).port or 5005, "actions": urlparse(settings.action_url).port or 5055,
             "console": settings.console_port, "health": int(os.environ.get("HAVEN_CLUSTER_HEALTH_PORT") or 8405)}
    with tempfile.TemporaryDirectory(prefix="haven-cluster-") as folder:
        try:
            with cluster(folder, rasa, actions, consoles, env=env, ports=ports, quiet=False) as info:
                print(f"\nHaven cluster is running: {rasa} Rasa, {actions} action/NLG, {consoles} console replica(s)\n"
                      f"  Webhooks (HAProxy): {info.rasa_url}/webhooks/<channel>/webhook\n"
                      f"  Officer console:    {info.console_url}/\n"
                      f"  HAProxy health:     http://127.0.0.1:{ports['health']}/health\n"
                      "  Stop:               Ctrl-C (each replica is drained first)\n", flush=True)
                while not stopping:
                    for replica in info.replicas:
                        proc = replica.service.proc
                        if proc is not None and proc.poll() is not None:
                            print(f"warning: {replica.server} exited (code {proc.returncode}); HAProxy routes "
                                  "around it", file=sys.stderr, flush=True)
                            replica.service.proc = None
                    if info.haproxy.proc is not None and info.haproxy.proc.poll() is not None:
                        print("error: haproxy stopped; stopping the cluster", file=sys.stderr)
                        return 1
                    time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        except (ClusterError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print("==> Haven cluster stopped", flush=True)
    return 0


def register(sub: "object") -> None:
    """Add `haven cluster` to the CLI."""
    p = sub.add_parser("cluster", help="run several replicas behind HAProxy (PostgreSQL + Redis)")  # type: ignore[attr-defined]
    p.add_argument("--rasa", type=int, default=2, help="Rasa replicas (default 2)")
    p.add_argument("--actions", type=int, default=1, help="action/NLG servers (default 1)")
    p.add_argument("--consoles", type=int, default=2, help="console replicas (default 2)")
    p.add_argument("--no-train", action="store_true", help="do not train even if the model is stale")
    p.set_defaults(func=lambda a: run_cluster(a.rasa, a.actions, a.consoles, a.no_train))
