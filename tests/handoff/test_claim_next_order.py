"""claim_next's choice, known answers, on SQLite (ORM path) and PostgreSQL (one statement):
the most urgent, then oldest, then lowest id; in the officer's languages (or the ones passed);
its own team's or unrouted handoffs only; a lapsed lease taken back with the fenced-off owner
named in the audit row; and two claimers started together never told the same handoff.
Invented conversation ids only."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot import audit
from bot.handoff import service
from bot.handoff.models import CLAIMED, Handoff
from bot.staff.credentials import disable_officer
from bot.staff.models import AuditEntry
from bot.staff.roster import add_team
from bot.store.db import session_scope

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _enqueue(engine, minute: int, risk=None, language: str = "en", team_id=None) -> int:
    conversation = f"order-{secrets.token_hex(4)}"
    return service.enqueue(conversation, channel="sms", language=language, risk=risk, team_id=team_id,
                           engine=engine, now=BASE + timedelta(minutes=minute)).handoff_id


def _claim_rows(engine, handoff_id: int) -> list[tuple[int, object]]:
    with session_scope(engine) as s:
        return [(r.actor_id, r.target_id) for r in s.execute(
            select(AuditEntry).where(AuditEntry.action == "claim", AuditEntry.handoff_id == handoff_id)
            .order_by(AuditEntry.chain, AuditEntry.seq)).scalars()]


def test_claim_next_known_order(engine, make_officer):
    team_a = add_team(f"team-a-{secrets.token_hex(2)}", engine)
    team_b = add_team(f"team-b-{secrets.token_hex(2)}", engine)
    me = make_officer(languages=("en", "fr"), team_id=team_a)
    other = make_officer(languages=("en",), team_id=team_a)

    # Made in an order unlike the expected one, so insertion order cannot pass the test.
    old_other = _enqueue(engine, 0)                       # other, oldest
    new_danger = _enqueue(engine, 30, risk="danger")      # danger, newest danger
    fr_disclosed = _enqueue(engine, 5, risk="disclosed", language="fr")
    es_danger = _enqueue(engine, 1, risk="danger", language="es")      # not her language
    b_danger = _enqueue(engine, 2, risk="danger", team_id=team_b)       # another team's
    a_danger = _enqueue(engine, 20, risk="danger", team_id=team_a)      # her team's, older danger
    en_disclosed = _enqueue(engine, 10, risk="disclosed")
    same_minute_1 = _enqueue(engine, 40)                  # two at the same time: lower id first
    same_minute_2 = _enqueue(engine, 40)
    # Claimed by a colleague whose lease then lapsed: claimable again, as "other" priority at minute 3.
    lapsed = _enqueue(engine, 3)
    taken = service.claim(lapsed, other.id, lease_seconds=60, engine=engine, now=BASE + timedelta(minutes=50))
    assert taken.handoff_id == lapsed

    now = BASE + timedelta(hours=2)
    got = []
    while True:
        c = service.claim_next(me.id, engine=engine, now=now)
        if c is None:
            break
        assert c.officer_id == me.id
        got.append(c.handoff_id)
    assert got == [a_danger, new_danger, fr_disclosed, en_disclosed, old_other, lapsed, same_minute_1, same_minute_2]

    with session_scope(engine) as s:
        rows = {h.id: h for h in s.execute(select(Handoff).where(Handoff.id.in_(got))).scalars()}
        for hid in got:
            h = rows[hid]
            assert (h.status, h.officer_id) == (CLAIMED, me.id)
            assert h.claimed_at == now and h.updated_at == now
            assert h.lease_expires_at == now + timedelta(seconds=90)
        assert rows[lapsed].version == 2 and rows[old_other].version == 1
        assert rows[lapsed].first_claimed_at == BASE + timedelta(minutes=50)  # the first claim's time kept
        assert rows[old_other].first_claimed_at == now
        left = set(s.execute(select(Handoff.id).where(Handoff.status == "queued")).scalars())
    assert left == {es_danger, b_danger}

    assert _claim_rows(engine, lapsed) == [(other.id, None), (me.id, other.id)]  # the fenced-off owner named
    assert _claim_rows(engine, old_other) == [(me.id, None)]
    with pytest.raises(service.StaleClaim):  # the colleague's old version no longer writes
        service.renew(lapsed, other.id, taken.version, engine=engine, now=now)
    assert audit.verify(engine).ok


def test_claim_next_languages_override_and_refusals(engine, make_officer):
    me = make_officer(languages=("en",))
    es = _enqueue(engine, 0, language="es")
    en = _enqueue(engine, 1)
    now = BASE + timedelta(hours=1)
    first = service.claim_next(me.id, languages=["es"], engine=engine, now=now)
    assert first is not None and first.handoff_id == es
    assert service.claim_next(me.id, languages=["es"], engine=engine, now=now) is None
    second = service.claim_next(me.id, languages=[], engine=engine, now=now)  # [] : any language
    assert second is not None and second.handoff_id == en
    assert service.claim_next(me.id, engine=engine, now=now) is None

    _enqueue(engine, 2)
    admin = make_officer(role="admin")
    gone = make_officer()
    disable_officer(gone.username, engine=engine)
    for who in (admin.id, gone.id, 987654):
        with pytest.raises(service.NotClaimable):
            service.claim_next(who, engine=engine, now=now)


def test_two_claimers_at_once_never_share(engine, make_officer):
    n = 40
    ids = {_enqueue(engine, i % 7, risk=(None, "danger")[i % 2]) for i in range(n)}
    a, b = make_officer(), make_officer()
    told: dict[int, list[int]] = {a.id: [], b.id: []}
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(officer_id: int) -> None:
        try:
            for _ in range(n):
                start.wait(timeout=30)  # both ask at the same moment, every round
                c = service.claim_next(officer_id, engine=engine)
                if c is not None:
                    told[officer_id].append(c.handoff_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=run, args=(o.id,)) for o in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    both = told[a.id] + told[b.id]
    assert len(both) == len(set(both)) == n and set(both) == ids
    assert told[a.id] and told[b.id]
    with session_scope(engine) as s:
        owners = dict(s.execute(select(Handoff.id, Handoff.officer_id).where(Handoff.id.in_(ids))).all())
    for officer_id, mine in told.items():
        assert all(owners[h] == officer_id for h in mine)
        assert all(_claim_rows(engine, h) == [(officer_id, None)] for h in mine)
    assert audit.verify(engine).ok
