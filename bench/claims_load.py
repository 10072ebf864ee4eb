"""Officers claiming handoffs through the console's HTTP API, for tests/cluster/test_4_claims.py and
`make bench-cluster`: one claim path, measured and checked the same way.

- `seed_handoffs`: waiting handoffs made by the handoff service itself (bot.handoff.service.enqueue,
  the bot's own path), in a few threads;
- `make_officers`: accounts through the credential API (Argon2id password, TOTP secret), each then
  logged in through the console's login form (prelogin token, password, authenticator code);
- `claim_all`: every officer a browser-like claimer: "take next" (POST /api/handoffs/claim-next),
  then, when `close` is set, close it (POST /api/handoffs/{id}/close with the claim's version).
  On a connection error or a 5xx it retries as a person would, after reloading its own list
  (GET /api/queue?view=mine): a claim whose answer was lost is found there and adopted;
- `check`: from the database (rows and the audit log) against what the claimers were told.
Invented data only (fictional +1555 numbers, pseudonymised as the channels do).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import httpx

PASSWORD = "a long invented passphrase for claim tests"
RETRY_AFTER = 0.2  # a person clicks again after a moment
RETRY_STATUSES = {502, 503, 504}


def seed_handoffs(engine: Any, count: int, language: str, pseudonym_key: str, threads: int = 6) -> list[int]:
    """`count` waiting handoffs through bot.handoff.service.enqueue (mixed risk), their ids in order."""
    from bot.crypto import pseudonym
    from bot.handoff import service

    key = base64.urlsafe_b64decode(pseudonym_key + "==")
    run = secrets.randbelow(90) + 10

    def one(i: int) -> int:
        conversation = pseudonym(key, "sms", f"+1555{run:02d}{i:05d}")
        risk = (None, "disclosed", "danger")[i % 3]
        return service.enqueue(conversation, channel="sms", language=language, risk=risk, engine=engine).handoff_id

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


@dataclass
class Officer:
    username: str
    totp_secret: str
    officer_id: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    language: str = ""


def make_officers(count: int, language: str, engine: Any = None) -> list[Officer]:
    """Officer accounts through the credential API (as `haven officer add` makes them), each on the
    roster for the next hours (as a supervisor puts them on duty)."""
    from datetime import timedelta

    from bot.staff.credentials import create_officer
    from bot.staff.roster import add_shifts
    from bot.store.models import utcnow

    tag = secrets.token_hex(3)
    made = [create_officer(f"claimer-{tag}-{i}", PASSWORD, role="officer", languages=[language], engine=engine)
            for i in range(count)]
    now = utcnow()
    for m in made:
        add_shifts(m.officer_id, [language], now - timedelta(minutes=5), now + timedelta(hours=4), engine=engine)
    return [Officer(m.username, m.totp_secret, m.officer_id, language=language) for m in made]


async def login(client: httpx.AsyncClient, officer: Officer) -> None:
    """Log in through the form; keep the session cookie and the CSRF token as a browser would."""
    import pyotp

    page = await client.get("/login")
    token = re.search(r'name="prelogin" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError(f"login form without a prelogin token ({page.status_code})")
    # The console's cookies are Secure (__Host-, HTTPS at the load balancer); carry them by hand over loopback.
    cookies = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
    resp = await client.post("/login", headers={"Cookie": cookies}, follow_redirects=False, data={
        "prelogin": token.group(1), "username": officer.username, "password": PASSWORD,
        "code": pyotp.TOTP(officer.totp_secret).now()})
    if resp.status_code != 303:
        raise RuntimeError(f"login refused ({resp.status_code})")
    cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in resp.cookies.items())}
    me = await client.get("/api/me", headers=cookie)
    me.raise_for_status()
    officer.headers = dict(cookie, **{"X-CSRF-Token": me.json()["csrf_token"]})


@dataclass
class Record:
    """What one claimer was told and what happened to it."""

    officer_id: int
    told: dict[int, int] = field(default_factory=dict)  # handoff id -> version it was told it holds
    adopted: int = 0  # claims whose answer was lost, found again in its own list
    closed: set[int] = field(default_factory=set)
    close_unsure: set[int] = field(default_factory=set)  # a retried close answered 409: the first one may have landed
    retries: int = 0
    empty_while_waiting: int = 0  # "nothing to take" while the queue view still showed waiting handoffs
    errors: list[str] = field(default_factory=list)
    claim_seconds: list[float] = field(default_factory=list)


class Stop(Exception):
    """The claimer gives up (too many failures in a row)."""


async def _request(client: httpx.AsyncClient, rec: Record, method: str, path: str, headers: dict[str, str],
                   json: Optional[dict[str, Any]] = None, attempts: int = 200) -> tuple[httpx.Response, int]:
    """One request, retried on connection errors and 502/503/504 (a replica died or is down); (answer, tries)."""
    for attempt in range(1, attempts + 1):
        try:
            resp = await client.request(method, path, headers=headers, json=json)
        except httpx.TransportError:
            resp = None
        if resp is not None and resp.status_code not in RETRY_STATUSES:
            return resp, attempt
        rec.retries += 1
        await asyncio.sleep(RETRY_AFTER)
    raise Stop(f"{method} {path}: no answer after {attempts} tries")


async def _resync(client: httpx.AsyncClient, officer: Officer, rec: Record, close: bool, outcome: str) -> None:
    """Reload 'mine': adopt every handoff it holds but was not told about (a lost answer); close them."""
    resp, _ = await _request(client, rec, "GET", "/api/queue?view=mine", officer.headers)
    resp.raise_for_status()
    for item in resp.json()["items"]:
        hid, version = int(item["id"]), int(item["version"])
        if hid not in rec.told:
            rec.told[hid] = version
            rec.adopted += 1
        if close and hid not in rec.closed:
            await _close(client, officer, rec, hid, version, outcome)


async def _close(client: httpx.AsyncClient, officer: Officer, rec: Record, hid: int, version: int, outcome: str) -> None:
    resp, tries = await _request(client, rec, "POST", f"/api/handoffs/{hid}/close", officer.headers,
                                 {"version": version, "outcome": outcome})
    if resp.status_code == 200:
        rec.closed.add(hid)
    elif resp.status_code == 409 and tries > 1:
        rec.close_unsure.add(hid)  # the database says whether the first attempt closed it
    else:
        rec.errors.append(f"close {resp.status_code} {resp.json().get('error')}")


async def claimer(base_url: str, officer: Officer, rec: Record, close: bool, outcome: str,
                  progress: Callable[[], None]) -> None:
    """Take next until nothing is left (as a person at the console would)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30.0)) as client:
        dirty = False
        try:
            while True:
                if dirty:
                    await _resync(client, officer, rec, close, outcome)
                    dirty = False
                started = time.perf_counter()
                resp, tries = await _request(client, rec, "POST", "/api/handoffs/claim-next", officer.headers, {})
                dirty = tries > 1  # an earlier attempt may have claimed one and lost the answer
                if resp.status_code != 200:
                    rec.errors.append(f"claim-next {resp.status_code} {resp.json().get('error')}")
                    dirty = True
                    if len(rec.errors) > 20:
                        raise Stop("too many errors")
                    continue
                body = resp.json()
                if body.get("handoff_id") is None:
                    if dirty:
                        continue
                    queue, _ = await _request(client, rec, "GET", "/api/queue?view=unassigned", officer.headers)
                    # Done when nothing she could take waits (other tests' handoffs in other
                    # languages may wait in the same queue, for officers who speak them).
                    if queue.status_code == 200 and not [i for i in queue.json()["items"]
                                                         if not officer.language or i.get("language") == officer.language]:
                        return
                    rec.empty_while_waiting += 1  # rows locked by others right now: look again shortly
                    await asyncio.sleep(RETRY_AFTER)
                    continue
                rec.claim_seconds.append(time.perf_counter() - started)
                hid, version = int(body["handoff_id"]), int(body["version"])
                if int(body["officer_id"]) != officer.officer_id:
                    rec.errors.append("claim answered for another officer")
                rec.told[hid] = version
                progress()
                if close:
                    await _close(client, officer, rec, hid, version, outcome)
        except Stop as exc:
            rec.errors.append(str(exc))


async def login_all(base_url: str, officers: list[Officer], in_flight: int = 4) -> None:
    gate = asyncio.Semaphore(in_flight)

    async def one(officer: Officer) -> None:
        async with gate, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            await login(client, officer)

    await asyncio.gather(*(one(o) for o in officers))


async def claim_all(base_url: str, officers: list[Officer], close: bool = True, outcome: str = "information_given",
                    progress: Optional[Callable[[int], None]] = None) -> list[Record]:
    """Every officer claims (and closes) until the queue is empty; their records."""
    records = [Record(o.officer_id) for o in officers]
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0])

    await asyncio.gather(*(claimer(base_url, o, r, close, outcome, tick) for o, r in zip(officers, records)))
    return records


@dataclass
class Checked:
    expected: int
    told: int
    lost: int  # handoffs nobody was told they hold, or not in the end state
    double_told: int  # handoffs two claimers were told are theirs
    claimant_mismatch: int  # the database's claimant is not the officer told
    claim_rows_not_one: int  # handoffs without exactly one `claim` audit row
    stuck: dict[str, int]  # end states other than the expected one
    foreign: int  # claims of handoffs not seeded by this run
    replay_errors: list[str]


def check(engine: Any, ids: list[int], records: list[Record], closed: bool,
          replay: Callable[[Any], Any]) -> Checked:
    """The database's rows and audit log against the claimers' own records."""
    from sqlalchemy import func, select

    from bot.handoff.models import Handoff
    from bot.staff.models import AuditEntry
    from bot.store.db import session_scope

    mine = set(ids)
    told_by: dict[int, list[int]] = {}
    for rec in records:
        for hid in rec.told:
            told_by.setdefault(hid, []).append(rec.officer_id)
    with session_scope(engine) as session:
        rows = {int(h.id): (h.status, h.officer_id, h.closed_by) for h in
                session.execute(select(Handoff).where(Handoff.id.in_(ids))).scalars()}
        claim_rows = dict(session.execute(
            select(AuditEntry.handoff_id, func.count()).where(AuditEntry.action == "claim", AuditEntry.handoff_id.in_(ids))
            .group_by(AuditEntry.handoff_id)).all())
        claim_actor = dict(session.execute(
            select(AuditEntry.handoff_id, AuditEntry.actor_id).where(AuditEntry.action == "claim",
                                                                     AuditEntry.handoff_id.in_(ids))).all())
    want = "closed" if closed else "claimed"
    stuck = Counter(status for status, _, _ in rows.values() if status != want)
    mismatch = 0
    for hid, (status, owner, closed_by) in rows.items():
        holder = closed_by if closed else owner
        told = told_by.get(hid, [])
        if len(told) == 1 and (holder != told[0] or claim_actor.get(hid) != told[0]):
            mismatch += 1
    replay_errors = list(replay(engine).errors)  # the whole log: other tests' handoffs must replay too
    return Checked(
        expected=len(ids), told=sum(1 for hid in told_by if hid in mine),
        lost=sum(1 for hid in ids if not told_by.get(hid) or rows.get(hid, ("",))[0] != want)
        + (len(ids) - len(rows)),
        double_told=sum(1 for hid, who in told_by.items() if len(who) > 1),
        claimant_mismatch=mismatch,
        claim_rows_not_one=sum(1 for hid in ids if claim_rows.get(hid, 0) != 1),
        stuck=dict(stuck), foreign=sum(1 for hid in told_by if hid not in mine), replay_errors=replay_errors,
    )
