"""Claims: 10,000 waiting handoffs (HAVEN_CLUSTER_CLAIMS) x 50 officers (HAVEN_CLUSTER_CLAIMERS) taking
and closing them through HAProxy across two console replicas, while a killer SIGKILLs a console
replica and restarts it a few times. 0 lost (every handoff claimed, and closed by the officer who
was told it is hers), 0 double-claimed (no two officers told "yours" for one handoff; exactly one
`claim` audit row each, by that officer); the audit log replays and verifies.

Claims do not touch Rasa, so this cluster is consoles only (no trained model needed). The
handoffs are made by the handoff service itself; officers through the credential API and the
console's login form (bench/claims_load.py, shared with `make bench-cluster`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Iterator

import pytest

from bench.claims_load import Checked, Record, check, claim_all, login_all, make_officers, seed_handoffs
from bot.cluster import Cluster, cluster
from bot.runner import start
from tests.conftest import TEST_KEYS

HANDOFFS = int(os.environ.get("HAVEN_CLUSTER_CLAIMS", "10000"))
CLAIMERS = int(os.environ.get("HAVEN_CLUSTER_CLAIMERS", "50"))
KILLS_AT = (0.2, 0.45, 0.7)  # fractions of the handoffs claimed when a console replica is killed
LANGUAGE = "sw"  # these officers speak only the language of these handoffs: other tests' handoffs stay theirs

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


@dataclass
class ClaimsRun:
    checked: Checked
    records: list[Record]
    kills: list[str] = field(default_factory=list)
    seconds: float = 0.0


@pytest.fixture(scope="module")
def consoles(cluster_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, list[int]]]:
    """The waiting handoffs, then two console replicas behind HAProxy (nothing else)."""
    from bot.store.db import get_engine

    started = time.monotonic()
    ids = seed_handoffs(get_engine(cluster_env["HAVEN_DATABASE_URL"]), HANDOFFS, LANGUAGE, TEST_KEYS["HAVEN_PSEUDONYM_KEY"])
    print(f"\n[claims] {len(ids)} handoffs queued through the handoff service in {time.monotonic() - started:.1f} s")
    folder = str(tmp_path_factory.mktemp("claims"))
    with cluster(folder, rasa=0, actions=0, consoles=2, env=cluster_env, log_path=os.path.join(folder, "cluster.log")) as info:
        yield info, ids


async def _killer(info: Cluster, claimed: list[int], finished: asyncio.Event, kills: list[str]) -> None:
    """SIGKILL a console replica (alternating) as the claims pass each mark; restart it; wait until UP."""
    victims = info.of("console")
    for n, mark in enumerate(KILLS_AT):
        while claimed[0] < mark * HANDOFFS and not finished.is_set():
            await asyncio.sleep(0.05)
        if finished.is_set():
            return
        victim = victims[n % len(victims)]
        proc = victim.service.proc
        assert proc is not None
        os.killpg(proc.pid, signal.SIGKILL)
        code = await asyncio.to_thread(proc.wait, 10)
        at = claimed[0]
        began = time.monotonic()
        await asyncio.to_thread(start, [victim.service], 120, info.env, True)
        assert await asyncio.to_thread(info.wait_status, victim, "UP", 60), f"{victim.server} did not come back"
        kills.append(f"{victim.server} at {at} claimed (exit {code}), back in {time.monotonic() - began:.1f} s")


@pytest.fixture(scope="module")
def claims_run(consoles: tuple[Cluster, list[int]]) -> ClaimsRun:
    from bot.store.db import get_engine
    from tests.handoff.invariants import replay

    info, ids = consoles
    officers = make_officers(CLAIMERS, LANGUAGE)
    asyncio.run(login_all(info.console_url, officers))
    claimed, kills = [0], []

    def progress(done: int) -> None:
        claimed[0] = done

    async def run() -> list[Record]:
        finished = asyncio.Event()
        killer = asyncio.create_task(_killer(info, claimed, finished, kills))
        try:
            return await claim_all(info.console_url, officers, close=True, progress=progress)
        finally:
            finished.set()
            await killer

    started = time.monotonic()
    records = asyncio.run(run())
    seconds = time.monotonic() - started
    checked = check(get_engine(info.database_url), ids, records, closed=True, replay=replay)
    told = sum(len(r.told) for r in records)
    print(f"\n[claims] {HANDOFFS} handoffs x {CLAIMERS} claimers through HAProxy over 2 consoles, {len(kills)} SIGKILL(s) "
          f"with restart: {told} claims told in {seconds:.1f} s ({told / seconds:.0f} claim+close/s); lost {checked.lost}, "
          f"double-claimed {checked.double_told}, claimant != told {checked.claimant_mismatch}, claim audit rows != 1: "
          f"{checked.claim_rows_not_one}, end states other than closed {checked.stuck}, foreign {checked.foreign}; "
          f"answers lost and found in 'mine' {sum(r.adopted for r in records)}, closes unsure "
          f"{sum(len(r.close_unsure) for r in records)}, retries {sum(r.retries for r in records)}, "
          f"'nothing to take' while handoffs waited {sum(r.empty_while_waiting for r in records)}; kills: {kills}")
    return ClaimsRun(checked, records, kills, seconds)


def test_every_handoff_claimed_exactly_once_by_the_officer_told(claims_run: ClaimsRun) -> None:
    c = claims_run.checked
    assert c.told == c.expected == HANDOFFS
    assert c.lost == 0
    assert c.double_told == 0
    assert c.claimant_mismatch == 0
    assert c.claim_rows_not_one == 0
    assert c.stuck == {}
    assert c.foreign == 0


def test_audit_log_replays_and_verifies(claims_run: ClaimsRun) -> None:
    from bot import audit
    from bot.store.db import get_engine

    assert claims_run.checked.replay_errors == [], claims_run.checked.replay_errors[:5]
    result = audit.verify(get_engine())
    assert result.ok, (result.bad_chain, result.bad_seq, result.reason)


def test_replicas_were_killed_and_every_claimer_finished_without_errors(claims_run: ClaimsRun) -> None:
    assert len(claims_run.kills) >= 1
    errors = [e for r in claims_run.records for e in r.errors]
    assert errors == [], errors[:5]
