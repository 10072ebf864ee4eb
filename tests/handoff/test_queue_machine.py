"""A Hypothesis state machine for the queue's rules, against a plain-Python model.

Rules: risk priority then first-come-first-served; claims are exclusive and leased; a lapsed
lease returns the handoff with its original priority and age; every officer write carries the
claim's version and a stale one is refused; release, transfer, close and cancel behave; the audit
replay agrees with the rows after every step. Time is a controlled clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import delete

from bot.staff.models import AuditEntry
from bot.handoff import service
from bot.handoff.models import PRIORITIES, Handoff, HandoffMessage
from bot.store.db import session_scope
from tests.handoff.invariants import check_database

LEASE = 60
T0 = datetime(2031, 3, 1, 9, 0, tzinfo=timezone.utc)


@dataclass
class Model:
    id: int
    priority: int
    order: int
    status: str = "queued"
    owner: Optional[int] = None
    version: int = 0
    lease_until: Optional[datetime] = None


def build_machine(engine, officer_ids: list[int]) -> type:
    class QueueMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            with session_scope(engine) as s:
                for model in (HandoffMessage, Handoff, AuditEntry):
                    s.execute(delete(model))
            self.now = T0
            self.items: dict[int, Model] = {}
            self.tokens: list[tuple[int, int, int]] = []  # (handoff, officer, version) ever handed out
            self.counter = 0

        # ---- helpers
        def claimable(self, m: Model) -> bool:
            return m.status == "queued" or (m.status == "claimed" and m.lease_until is not None and m.lease_until <= self.now)

        def live_owner(self, hid: int, officer: int, version: int) -> bool:
            m = self.items[hid]
            return (m.status == "claimed" and m.owner == officer and m.version == version
                    and m.lease_until is not None and m.lease_until > self.now)

        def took(self, m: Model, officer: int) -> None:
            m.status, m.owner, m.version, m.lease_until = "claimed", officer, m.version + 1, self.now + timedelta(seconds=LEASE)
            self.tokens.append((m.id, officer, m.version))

        def tick(self) -> None:
            self.now += timedelta(milliseconds=1)

        # ---- rules
        @rule(risk=st.sampled_from([None, "disclosed", "danger"]))
        def enqueue(self, risk: Optional[str]) -> None:
            self.tick()
            self.counter += 1
            r = service.enqueue(f"m-{self.counter}", channel="sms", language="en", risk=risk, engine=engine, now=self.now)
            assert r.created
            self.items[r.handoff_id] = Model(r.handoff_id, PRIORITIES.get(risk or "other"), self.counter)

        @rule(officer=st.sampled_from(officer_ids))
        def claim_next(self, officer: int) -> None:
            self.tick()
            candidates = sorted((m for m in self.items.values() if self.claimable(m)), key=lambda m: (m.priority, m.order))
            claim = service.claim_next(officer, lease_seconds=LEASE, engine=engine, now=self.now)
            if not candidates:
                assert claim is None
                return
            expected = candidates[0]
            assert claim is not None and claim.handoff_id == expected.id, "queue order: priority, then age"
            self.took(expected, officer)
            assert claim.version == expected.version

        @rule(officer=st.sampled_from(officer_ids), data=st.data())
        def claim_specific(self, officer: int, data: st.DataObject) -> None:
            if not self.items:
                return
            self.tick()
            m = self.items[data.draw(st.sampled_from(sorted(self.items)))]
            if self.claimable(m):
                claim = service.claim(m.id, officer, lease_seconds=LEASE, engine=engine, now=self.now)
                self.took(m, officer)
                assert claim.version == m.version
            else:
                with pytest.raises(service.NotClaimable):
                    service.claim(m.id, officer, lease_seconds=LEASE, engine=engine, now=self.now)

        @rule(data=st.data(), action=st.sampled_from(["renew", "reply", "release", "close", "transfer"]))
        def officer_write(self, data: st.DataObject, action: str) -> None:
            """Replay any token ever handed out (fresh or stale) for any write."""
            if not self.tokens:
                return
            self.tick()
            hid, officer, version = data.draw(st.sampled_from(self.tokens))
            m = self.items[hid]
            ok = self.live_owner(hid, officer, version)
            target = data.draw(st.sampled_from(officer_ids))
            call = {
                "renew": lambda: service.renew(hid, officer, version, lease_seconds=LEASE, engine=engine, now=self.now),
                "reply": lambda: service.reply(hid, officer, version, "text", lease_seconds=LEASE, engine=engine, now=self.now),
                "release": lambda: service.release(hid, officer, version, engine=engine, now=self.now),
                "close": lambda: service.close(hid, officer, version, "referred", engine=engine, now=self.now),
                "transfer": lambda: service.transfer(hid, officer, version, to_officer_id=target, lease_seconds=LEASE,
                                                     engine=engine, now=self.now),
            }[action]
            if not ok:
                with pytest.raises(service.StaleClaim):
                    call()
                return
            result = call()
            if action in ("renew", "reply"):
                m.lease_until = self.now + timedelta(seconds=LEASE)
            elif action == "release":
                m.status, m.owner, m.version, m.lease_until = "queued", None, m.version + 1, None
            elif action == "close":
                m.status, m.version, m.lease_until = "closed", m.version + 1, None
            elif action == "transfer":
                self.took(m, target)
                assert result.version == m.version

        @rule(seconds=st.integers(min_value=1, max_value=90))
        def time_passes(self, seconds: int) -> None:
            self.now += timedelta(seconds=seconds)

        @rule()
        def expire(self) -> None:
            self.tick()
            expected = sorted(m.id for m in self.items.values()
                              if m.status == "claimed" and m.lease_until is not None and m.lease_until <= self.now)
            assert sorted(service.expire_leases(engine=engine, now=self.now)) == expected
            for hid in expected:
                m = self.items[hid]
                m.status, m.owner, m.version, m.lease_until = "queued", None, m.version + 1, None

        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            if not self.items:
                return
            self.tick()
            m = self.items[data.draw(st.sampled_from(sorted(self.items)))]
            done = service.cancel(f"m-{m.order}", engine=engine, now=self.now)
            assert done == (m.status == "queued")
            if done:
                m.status, m.version = "cancelled", m.version + 1

        # ---- invariants
        @invariant()
        def rows_match_model(self) -> None:
            with session_scope(engine) as s:
                for m in self.items.values():
                    h = s.get(Handoff, m.id)
                    assert (h.status, h.version, h.priority) == (m.status, m.version, m.priority)
                    if m.status == "claimed":
                        assert h.officer_id == m.owner
            report = check_database(engine, len(self.items))
            assert report.errors == []

    return QueueMachine


def test_queue_rules_state_machine(engine, make_officer):
    officer_ids = [make_officer(languages=()).id for _ in range(2)]
    machine = build_machine(engine, officer_ids)
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=60, stateful_step_count=40, deadline=None,
                          suppress_health_check=list(HealthCheck)),
    )
