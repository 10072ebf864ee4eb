"""Profile turns through the embedded stack with py-spy: which functions cost the most.

Usage: python -m bench.profile_turn [seconds]   (needs the `py-spy` binary on PATH or PY_SPY=path)
Starts the embedded stack, drives closed-loop REST load from 10 conversations, samples the Rasa
and action/NLG processes, and prints the frames with the most inclusive samples per process.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

from bench.load import closed_loop


GENERIC = ("threading.py", "concurrent/futures", "runpy.py", "sanic/server", "sanic/app.py", "asyncio/",
           "rasa/__main__", "rasa/cli/", "rasa/api.py", "rasa/core/run.py", "bot/rasa_adapters/main.py", "bot/action_server.py:9")


def top_frames(raw: str, limit: int = 25) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(inclusive, self) shares of samples per frame from py-spy's collapsed stacks (generic frames left out)."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        leaf[frames[-1]] += n
        for frame in set(frames):
            if not any(g in frame for g in GENERIC):
                inclusive[frame] += n
    if not samples:
        return [], []
    return ([(f, c / samples) for f, c in inclusive.most_common(limit)],
            [(f, c / samples) for f, c in leaf.most_common(12)])


def main() -> int:
    from bot.runner import temp_stack

    spy = os.environ.get("PY_SPY") or shutil.which("py-spy") or shutil.which("py-spy", path=os.path.dirname(sys.executable))
    if not spy:
        print("py-spy not found: install it (pin py-spy==0.4.3) or set PY_SPY", file=sys.stderr)
        return 2
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    folder = tempfile.mkdtemp(prefix="haven-profile-")
    with temp_stack(folder, {"HAVEN_LOG_LEVEL": "WARNING"}) as stack:
        asyncio.run(closed_loop(stack.rasa_url, [f"warm-{i}" for i in range(4)], 3))
        recorders = {}
        for svc in stack.services:
            assert svc.proc is not None
            out = os.path.join(folder, f"{svc.name}.txt")
            recorders[svc.name] = (out, subprocess.Popen(
                [spy, "record", "--pid", str(svc.proc.pid), "--duration", str(seconds), "--format", "raw",
                 "--rate", "50", "--output", out, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        async def load() -> int:
            done = 0
            loop = asyncio.get_running_loop()
            end = loop.time() + seconds - 2
            while loop.time() < end:
                sent = await closed_loop(stack.rasa_url, [f"prof-{secrets.token_hex(3)}-{i}" for i in range(10)], 5)
                done += len(sent)
            return done

        turns = asyncio.run(load())
        for name, (out, proc) in recorders.items():
            proc.wait(seconds + 60)
            with open(out) as fh:
                inclusive, own = top_frames(fh.read())
            print(f"\n== {name}: frames by inclusive share of busy samples ({turns} turns in {seconds} s)")
            for frame, share in inclusive:
                print(f"  {share * 100:5.1f}%  {frame[:150]}")
            print(f"-- {name}: leaf frames (self time)")
            for frame, share in own:
                print(f"  {share * 100:5.1f}%  {frame[:150]}")
    if os.environ.get("HAVEN_PROFILE_KEEP"):
        print(f"raw py-spy profiles kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
