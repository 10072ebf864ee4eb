"""`haven officer|roster|audit` commands, and audit-chain tamper detection."""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import threading

import pyotp
from sqlalchemy import delete, select, update

from bot import audit
from bot.staff.credentials import authenticate
from bot.staff.models import AuditEntry
from bot.handoff import service
from bot.handoff.cli import register
from bot.store.db import session_scope


def haven(argv, monkeypatch, capsys, stdin=""):
    parser = argparse.ArgumentParser(prog="haven")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def secret_from(output: str) -> str:
    return re.search(r"Or enter this key by hand: ([A-Z2-7 ]+)", output).group(1).replace(" ", "")


def test_officer_lifecycle(db_url, monkeypatch, capsys):
    code, out, _ = haven(["officer", "add", "amina", "--name", "Amina", "--languages", "sw,en", "--role", "supervisor",
                          "--password-stdin"], monkeypatch, capsys, "a long enough password\n")
    assert code == 0 and "Scan this QR code" in out and "█" in out
    secret = secret_from(out)
    assert authenticate("amina", "a long enough password", pyotp.TOTP(secret).now(), "127.0.0.1").officer_id
    code, out, _ = haven(["officer", "list"], monkeypatch, capsys)
    assert "amina" in out and "supervisor" in out and "en,sw" in out
    code, _, err = haven(["officer", "add", "amina", "--password-stdin"], monkeypatch, capsys, "a long enough password\n")
    assert code == 1 and "already exists" in err
    code, _, err = haven(["officer", "add", "shorty", "--password-stdin"], monkeypatch, capsys, "short\n")
    assert code == 1 and "12 characters" in err
    code, out, _ = haven(["officer", "reset-2fa", "amina"], monkeypatch, capsys)
    new_secret = secret_from(out)
    assert code == 0 and new_secret != secret
    assert authenticate("amina", "a long enough password", pyotp.TOTP(secret).now(), "127.0.0.2").officer_id is None
    code, _, _ = haven(["officer", "disable", "amina"], monkeypatch, capsys)
    assert code == 0
    assert "disabled" in haven(["officer", "list"], monkeypatch, capsys)[1]
    assert haven(["officer", "disable", "nobody"], monkeypatch, capsys)[0] == 1


def test_roster_commands(db_url, monkeypatch, capsys):
    haven(["officer", "add", "juma", "--password-stdin"], monkeypatch, capsys, "a long enough password\n")
    assert haven(["roster", "team-add", "coast"], monkeypatch, capsys)[0] == 0
    assert "coast" in haven(["roster", "teams"], monkeypatch, capsys)[1]
    code, out, _ = haven(["roster", "add", "--officer", "juma", "--languages", "en,sw", "--team", "coast",
                          "--start", "2031-01-01T08:00+03:00", "--end", "2031-01-01T16:00+03:00", "--repeat-days", "3"],
                         monkeypatch, capsys)
    assert code == 0 and "added 6 shift(s)" in out
    out = haven(["roster", "list", "--days", "4000"], monkeypatch, capsys)[1]
    assert out.count("juma") == 6 and "05:00 -> 2031-01-01 13:00 UTC" in out
    shift_id = int(out.split()[0])
    assert haven(["roster", "remove", str(shift_id)], monkeypatch, capsys)[0] == 0
    assert haven(["roster", "remove", str(shift_id)], monkeypatch, capsys)[0] == 1


def _some_history(make_officer):
    officer = make_officer()
    for i in range(4):
        hid = service.enqueue(f"c{i}", channel="sms", language="en").handoff_id
        claim = service.claim(hid, officer.id, ip="10.1.2.3")
        service.close(hid, officer.id, claim.version, "referred")


def test_audit_verify_detects_tampering(db_url, engine, make_officer, monkeypatch, capsys):
    _some_history(make_officer)
    code, out, _ = haven(["audit", "verify"], monkeypatch, capsys)
    assert code == 0 and "audit log intact" in out and "chain 1: head seq" in out
    result = audit.verify(engine)
    assert result.ok and result.count >= 9

    # an edited field
    with session_scope(engine) as s:
        row = s.execute(select(AuditEntry).where(AuditEntry.action == "close")).scalars().first()
        chain, seq = row.chain, row.seq
        row.outcome = "report_taken"
    result = audit.verify(engine)
    assert (result.ok, result.bad_chain, result.bad_seq) == (False, chain, seq)
    code, _, err = haven(["audit", "verify"], monkeypatch, capsys)
    assert code == 1 and f"BROKEN in chain {chain} at seq {seq}" in err


def test_audit_detects_deleted_and_forged_rows(db_url, engine, make_officer):
    _some_history(make_officer)
    with session_scope(engine) as s:
        first = s.execute(select(AuditEntry).where(AuditEntry.action == "claim")).scalars().first()
        chain = first.chain
        rows = s.execute(select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)).scalars().all()
        assert len(rows) >= 2
        s.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 1))
    result = audit.verify(engine)
    assert (result.ok, result.bad_chain, result.bad_seq) == (False, chain, 1)  # a deleted row

    # re-linking the chain without the key does not help: the HMAC needs the master key
    with session_scope(engine) as s:
        later = s.execute(select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)).scalars().all()
        prev = audit.GENESIS
        for row in later:
            row.seq -= 1
            s.flush()
            row.prev_hash = prev
            row.hash = hashlib.sha256((prev + row.action).encode()).hexdigest()
            prev = row.hash
    result = audit.verify(engine)
    assert (result.ok, result.bad_chain, result.bad_seq) == (False, chain, 1)
    assert result.reason == "row content does not match its hash"


def test_audit_chains_hold_under_concurrent_appends(db_url, engine):
    def burst(worker: int) -> None:
        for i in range(25):
            audit.record("note", engine, actor_id=worker, handoff_id=worker * 100 + i)

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = audit.verify(engine)
    assert result.ok and result.count == 150 and len(result.heads) == audit.CHAINS


def test_totp_secrets_follow_a_master_key_rotation(db_url, engine, make_officer, monkeypatch):
    from bot.staff import credentials as auth
    from bot.settings import get_settings, new_key_b64
    from tests.conftest import TEST_KEYS

    officer = make_officer()
    monkeypatch.setenv("HAVEN_OLD_MASTER_KEYS", "k1:" + TEST_KEYS["HAVEN_MASTER_KEY"])
    monkeypatch.setenv("HAVEN_MASTER_KEY", new_key_b64())
    monkeypatch.setenv("HAVEN_MASTER_KEY_ID", "k2")
    get_settings.cache_clear()
    assert auth.reseal_totp_secrets(engine) == 1
    monkeypatch.delenv("HAVEN_OLD_MASTER_KEYS")  # the old key can go: nothing needs it any more
    get_settings.cache_clear()
    assert authenticate(officer.username, officer.password, officer.code(), "10.9.9.9", engine).officer_id == officer.id
