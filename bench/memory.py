"""Where the embedded default's memory goes: `python -m bench.memory [turns]`.

Starts `haven run`'s three processes on a private SQLite database and free ports
(bot.runner.temp_stack), and prints each process's resident memory (VmRSS, as bench/cluster.py
measures it, and /proc/PID/smaps_rollup's anonymous / file-backed split) after start and after
`turns` REST turns (default 20; ordinary, harmless texts in 4 conversations, one at a time).
Figures only; nothing passes or fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from bench.cluster import rss_mb
from bench.load import texts


def rollup(pid: int) -> dict[str, int]:
    """smaps_rollup fields in MiB (Rss, Anonymous, Private_Clean, Shared_Clean, ...)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            out[parts[0].rstrip(":")] = int(parts[1]) // 1024
    return out


def report(label: str, pids: dict[str, int]) -> None:
    total = sum(rss_mb(p) for p in pids.values())
    parts = []
    for name, pid in pids.items():
        r = rollup(pid)
        threads = len(os.listdir(f"/proc/{pid}/task"))
        parts.append(f"{name} {rss_mb(pid):.0f} (anon {r.get('Anonymous', 0)}, file "
                     f"{r.get('Rss', 0) - r.get('Anonymous', 0)}, {threads} threads)")
    print(f"{label:12} whole-stack RSS {total:.0f} MiB: " + "; ".join(parts), flush=True)


def main() -> int:
    import httpx

    from bot.model import MODEL_PATH
    from bot.runner import temp_stack

    if not MODEL_PATH.exists():
        print("no trained model: run `make train` first", file=sys.stderr)
        return 2
    turns = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    folder = tempfile.mkdtemp(prefix="haven-bench-memory-")
    try:
        with temp_stack(folder, {"HAVEN_LOG_LEVEL": "WARNING"}, console=True) as stack:
            pids = {s.name: s.proc.pid for s in stack.services if s.proc is not None}
            report("after start", pids)
            conversations = [f"mem-{secrets.token_hex(4)}-{i}" for i in range(4)]
            lines = texts(max(1, turns // len(conversations) + 1))
            failed = 0
            with httpx.Client(timeout=120) as client:
                for k in range(turns):
                    resp = client.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                                       json={"sender": conversations[k % 4], "message": lines[k // 4]})
                    failed += resp.status_code != 200
            report(f"after {turns} turns", pids)
            if failed:
                print(f"{failed} turn(s) failed", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
