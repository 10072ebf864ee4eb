"""`make bench`: cold start to first reply, resident memory per process, REST reply latency.

Starts the stack exactly as `haven run` does (trained model, SQLite in a temp folder, encrypted
tracker store), on free ports, so it can run beside a `make run`. Prints figures; no pass/fail:
compare with the stock-Rasa baseline in ../shared/RASA_NOTES.md (serial p50 19 ms, p99 26 ms,
`rasa run` ready in ~26 s, ~1.1 GB resident) measured on the same kind of machine.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench.stats import percentile

MESSAGES = [
    "hi", "yes", "i need help", "where is the nearest gender desk", "thank you",
    "hola necesito ayuda", "bonjour", "habari yako", "oi tudo bem", "what can you do",
]


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MiB), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> int:
    from bot.model import MODEL_PATH
    from bot.runner import temp_stack

    if not MODEL_PATH.exists():
        print("no trained model: run `make train` first", file=sys.stderr)
        return 2
    folder = tempfile.mkdtemp(prefix="haven-bench-")
    t0 = time.monotonic()
    with temp_stack(folder, {"HAVEN_LOG_LEVEL": "WARNING"}, console=True) as stack:
        url = f"{stack.rasa_url}/webhooks/rest/webhook"
        with httpx.Client(timeout=60) as client:
            client.post(url, json={"sender": "bench-cold", "message": "hi"}).raise_for_status()
            cold = time.monotonic() - t0
            latencies = []
            sender = "bench-" + secrets.token_hex(4)
            for i in range(200):
                if i % 20 == 0:
                    sender = "bench-" + secrets.token_hex(4)  # fresh conversations, like real traffic
                started = time.perf_counter()
                client.post(url, json={"sender": sender, "message": MESSAGES[i % len(MESSAGES)]}).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
        print("Haven core benchmark (2-core machine; stock Rasa baseline in shared/RASA_NOTES.md)")
        print(f"  cold start (migrate + start 3 processes + first reply): {cold:6.1f} s   (stock `rasa run` ready: ~26 s)")
        for svc in stack.services:
            print(f"  resident memory {svc.name:<12} {_rss_mb(svc.proc.pid):7.0f} MiB")
        print(f"  REST reply latency over {len(latencies)} messages: p50 {statistics.median(latencies):6.1f} ms, "
              f"p95 {percentile(latencies, 95):6.1f} ms, p99 {percentile(latencies, 99):6.1f} ms"
              "   (stock: p50 19 ms, p99 26 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
