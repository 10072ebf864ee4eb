"""Ordering through HAProxy: 40 (make test; 100 with HAVEN_CLUSTER_CONVERSATIONS=100) conversations x 10 messages, up to 20 in flight, each
conversation with several turns in flight at once, alternating Rasa replicas. With Haven's
atomic lock every tracker has every turn once, whole and in order, and every reply went out once;
the same load on Rasa's stock RedisLockStore is the reported baseline."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter

import pytest

from bench.load import latency_summary, rest_load
from bot.cluster import Cluster, cluster
from tests.cluster.checks import problems, trackers
from tests.cluster.conftest import require_model

CONVERSATIONS = int(os.environ.get("HAVEN_CLUSTER_CONVERSATIONS", "40"))
BASELINE_CONVERSATIONS = int(os.environ.get("HAVEN_CLUSTER_BASELINE_CONVERSATIONS", "30"))
PER_CONVERSATION = 10

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def _load(info: Cluster, count: int, lock_store: str) -> tuple[dict[str, list[str]], dict[str, float], Counter[str]]:
    before = {k: int(v.get("stot", 0)) for k, v in info.server_stats().items() if k[0] == "rasa"}
    run = secrets.token_hex(3)
    conversations = [f"ord-{lock_store}-{run}-{i}" for i in range(count)]
    started = time.monotonic()
    sent = asyncio.run(rest_load(info.rasa_url, conversations, PER_CONVERSATION, in_flight=20, stagger=0.25))
    wall = time.monotonic() - started
    served = Counter({k[1]: int(v.get("stot", 0)) - before.get(k, 0)
                      for k, v in info.server_stats().items() if k[0] == "rasa" and k[1] != "BACKEND"})
    events = trackers(info.database_url, conversations)
    by_conv: dict[str, list] = {}
    for s in sent:
        by_conv.setdefault(s.conversation, []).append(s)
    found = {cid: problems(events[cid], by_conv[cid]) for cid in conversations}
    failed_requests = sum(s.status != 200 for s in sent)
    if failed_requests:
        found["(requests)"] = [f"{failed_requests} request(s) not answered 200"]
    return found, latency_summary(sent, wall), served


def test_every_turn_once_in_order_with_two_replicas(haven_cluster) -> None:
    found, summary, served = _load(haven_cluster, CONVERSATIONS, "haven")
    print(f"\n[cluster] haven lock, {CONVERSATIONS}x{PER_CONVERSATION}: {summary}; requests per replica {dict(served)}")
    assert len(served) == 2 and min(served.values()) > 0.3 * CONVERSATIONS * PER_CONVERSATION  # both replicas served
    bad = {cid: p for cid, p in found.items() if p}
    assert not bad, f"{len(bad)} conversation(s) wrong, e.g. {next(iter(bad.values()))}"


def test_baseline_stock_redis_lock_store_under_the_same_load(cluster_env, tmp_path, capsys) -> None:
    require_model()
    with cluster(str(tmp_path), rasa=2, actions=1, consoles=0, env=cluster_env,
                 log_path=str(tmp_path / "cluster.log"), lock_store="stock") as info:
        found, summary, served = _load(info, BASELINE_CONVERSATIONS, "stock")
    kinds = Counter(p.split(":")[0] for ps in found.values() for p in ps)
    bad = sum(1 for ps in found.values() if ps)
    with capsys.disabled():
        print(f"\n[baseline] stock RedisLockStore, {BASELINE_CONVERSATIONS}x{PER_CONVERSATION}: {bad} conversation(s) "
              f"with a problem {dict(kinds)}; {summary}; requests per replica {dict(served)}")
    assert sum(served.values()) >= BASELINE_CONVERSATIONS * PER_CONVERSATION  # the baseline ran; not a gate
