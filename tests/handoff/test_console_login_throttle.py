"""Issue 10, items 3 and 4: login throttling slows attackers without locking the officer out,
the failure count is atomic under concurrent guesses, forwarded addresses are believed only from
HAVEN_TRUSTED_PROXIES, and usernames are shown only to admins. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from bot.console.app import ConsoleConfig, create_app
from bot.settings import SettingsError, get_settings, load_settings
from bot.staff.credentials import authenticate
from bot.staff.models import AuditEntry, Officer
from bot.store.db import session_scope
from tests.handoff.conftest import csrf_of, login

WRONG = "not the password at all"
T0 = datetime(2031, 3, 4, 10, 0, tzinfo=timezone.utc)


def code_at(officer, when: datetime) -> str:
    return pyotp.TOTP(officer.secret).at(when)


def fresh(app, client=("testclient", 50000)):
    return TestClient(app, base_url="https://testserver", client=client)


def test_a_known_device_still_logs_in_after_an_attacker_hammered_the_username(console_app, make_officer):
    officer = make_officer()
    mine = fresh(console_app)
    assert login(mine, officer).status_code == 303  # this browser becomes a known device
    assert mine.post("/logout", data={"csrf_token": csrf_of(mine)}, follow_redirects=False).status_code == 303
    attacker = fresh(console_app)  # same address (a shared proxy or NAT), no device cookie
    good, officer.password = officer.password, WRONG
    answers = [login(attacker, officer).status_code for _ in range(12)]
    assert set(answers) <= {401, 429} and 429 in answers
    officer.password = good
    assert login(attacker, officer, officer.code(1)).status_code == 429  # the attacker's browser waits
    response = login(mine, officer, officer.code(1))  # the officer's own browser: right password and code
    assert response.status_code == 303, response.text
    assert mine.get("/api/me").status_code == 200
    assert "__Host-haven_device" in mine.cookies and "__Host-haven_device" not in attacker.cookies


def test_failures_from_one_address_do_not_block_the_name_elsewhere(engine, make_officer):
    officer = make_officer()
    for _ in range(5):
        assert authenticate(officer.username, WRONG, "000000", "192.0.2.10", engine, now=T0).error in ("invalid", "throttled")
    result = authenticate(officer.username, officer.password, code_at(officer, T0), "198.51.100.7", engine, now=T0)
    assert result.officer_id == officer.id and result.error is None


def test_delay_grows_then_the_right_password_works(engine, make_officer):
    officer = make_officer()
    ip = "192.0.2.20"

    def attempt(at: datetime, password: str = WRONG) -> str:
        result = authenticate(officer.username, password, code_at(officer, at), ip, engine, now=at)
        return result.error or "ok"

    assert [attempt(T0) for _ in range(3)] == ["invalid"] * 3  # three free failures
    assert attempt(T0) == "throttled"  # then 1 s after the latest failure
    assert attempt(T0 + timedelta(seconds=1)) == "invalid"
    assert attempt(T0 + timedelta(seconds=2)) == "throttled"  # now 2 s
    assert attempt(T0 + timedelta(seconds=3)) == "invalid"  # five failures in all
    assert attempt(T0 + timedelta(seconds=4), officer.password) == "throttled"  # 4 s: even the right password waits
    # the old rule refused the right password for 15 minutes after five failures; now 4 s is enough
    assert attempt(T0 + timedelta(seconds=7), officer.password) == "ok"


def test_spraying_from_the_proxy_address_does_not_lock_out_known_devices(engine, make_officer):
    officer = make_officer()
    first = authenticate(officer.username, officer.password, code_at(officer, T0), "127.0.0.1", engine, now=T0)
    assert first.device_token
    later = T0 + timedelta(minutes=2)
    for i in range(34):  # an address-wide spray, every client seen as the proxy's 127.0.0.1
        authenticate(f"nobody-{i}", WRONG, "123456", "127.0.0.1", engine, now=later)
    stranger = authenticate("someone-else", WRONG, "123456", "127.0.0.1", engine, now=later)
    assert stranger.error == "throttled"
    result = authenticate(officer.username, officer.password, code_at(officer, later), "127.0.0.1", engine,
                          now=later, device=first.device_token)
    assert result.officer_id == officer.id
    # a device token is bound to its username: it does not lift the throttle for another name
    other = authenticate("someone-else", WRONG, "123456", "127.0.0.1", engine, now=later, device=first.device_token)
    assert other.error == "throttled"


def _evaluated(engine, username: str, attempts: int, concurrent: bool) -> int:
    """How many wrong guesses were checked (answered `invalid`, not `throttled`)."""
    results: list[str] = []
    barrier = threading.Barrier(attempts if concurrent else 1)

    def guess() -> None:
        barrier.wait()
        results.append(authenticate(username, WRONG, "000000", "192.0.2.30", engine, now=T0).error or "ok")

    if not concurrent:
        for _ in range(attempts):
            guess()
    else:
        threads = [threading.Thread(target=guess) for _ in range(attempts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(results) == attempts
    return results.count("invalid")


def test_concurrent_guesses_get_no_more_evaluations_than_sequential_ones(engine, make_officer):
    sequential = _evaluated(engine, make_officer().username, 16, concurrent=False)
    concurrent = _evaluated(engine, make_officer().username, 16, concurrent=True)
    assert 1 <= sequential < 16
    assert concurrent == sequential, f"{concurrent} concurrent guesses were checked, {sequential} allowed"


def _app_with(engine, outbound, proxies):
    settings = get_settings().with_overrides(trusted_proxies=proxies)
    return create_app(settings, outbound=outbound, engine=engine, config=ConsoleConfig(background_jobs=False))


def _login_ips(engine, officer_id: int) -> list[str]:
    with session_scope(engine) as s:
        return list(s.execute(select(AuditEntry.ip).where(AuditEntry.action == "login", AuditEntry.actor_id == officer_id)
                              .order_by(AuditEntry.at)).scalars())


def test_forwarded_for_is_believed_only_from_trusted_proxies(engine, outbound, make_officer):
    a, b, c = make_officer(), make_officer(), make_officer()
    plain = fresh(_app_with(engine, outbound, ()), client=("127.0.0.1", 4000))
    assert login_with(plain, a, "203.0.113.9").status_code == 303
    proxied = fresh(_app_with(engine, outbound, ("127.0.0.1", "10.0.0.0/8")), client=("127.0.0.1", 4000))
    # the right-most hop that is not a trusted proxy; a forged left-most entry is ignored
    assert login_with(proxied, b, "198.51.100.1, 203.0.113.10, 10.1.2.3").status_code == 303
    untrusted = fresh(_app_with(engine, outbound, ("127.0.0.1",)), client=("192.0.2.99", 4000))
    assert login_with(untrusted, c, "203.0.113.11").status_code == 303
    assert [_login_ips(engine, o.id) for o in (a, b, c)] == [["127.0.0.1"], ["203.0.113.10"], ["192.0.2.99"]]


def login_with(client, officer, forwarded: str):
    page = client.get("/login")
    token = re.search(r'name="prelogin" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"prelogin": token, "username": officer.username, "password": officer.password,
                                       "code": officer.code()}, headers={"X-Forwarded-For": forwarded}, follow_redirects=False)


def test_trusted_proxies_setting(haven_env):
    settings = load_settings({**haven_env, "HAVEN_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"})
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert load_settings(haven_env).trusted_proxies == ()
    with pytest.raises(SettingsError) as err:
        load_settings({**haven_env, "HAVEN_TRUSTED_PROXIES": "proxy.example"})
    assert "HAVEN_TRUSTED_PROXIES" in str(err.value) and "proxy.example" not in str(err.value)


def test_the_console_process_does_not_let_uvicorn_trust_loopback():
    from bot.runner import services

    console = [s for s in services() if s.name == "console"][0]
    assert "--no-proxy-headers" in console.cmd


def test_usernames_only_for_admins(engine, make_officer, client_for, on_duty):
    officer, supervisor, admin = make_officer(), make_officer("supervisor"), make_officer("admin")
    with session_scope(engine) as s:  # the fixture's display name is the username; give a real one
        s.execute(update(Officer).where(Officer.id == officer.id).values(display_name="Asha D."))
    on_duty(officer)
    cs, ca, co = client_for(supervisor), client_for(admin), client_for(officer)
    for client in (cs, co):
        for path in ("/api/roster", "/api/officers", "/dashboard", "/"):
            response = client.get(path)
            if response.status_code == 200:
                assert officer.username not in response.text, (client is cs, path)
    roster = cs.get("/api/roster").json()["items"]
    assert roster and all("username" not in item for item in roster)
    assert roster[0]["officer_id"] == officer.id and roster[0]["display_name"] == "Asha D."
    assert officer.username in ca.get("/api/roster").text and officer.username in ca.get("/api/officers").text
