"""Property-based fuzz (hypothesis) over the console's JSON API and login form: whatever the body,
headers or path, the answer is never a 5xx and the server still answers afterwards. Runs as a
logged-in officer (holding a live claim) and as an admin, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bot.handoff import service

# Every Unicode code point, lone surrogates and NUL included.
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=40)
FIELDS = ["version", "text", "outcome", "officer_id", "team_id", "reassign", "reason", "name", "languages",
          "starts_at", "ends_at", "repeat_days", "current_password", "new_password"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-3, max_value=40),
    st.floats(allow_nan=True, allow_infinity=True), ANY_TEXT,
    st.sampled_from(["2031-01-01T08:00:00+00:00", "9999-12-31T23:00:00+00:00", "referred", "safety_concern", "en"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(ANY_TEXT, inner, max_size=4)), max_leaves=12)
OBJECTS = st.dictionaries(st.one_of(st.sampled_from(FIELDS), ANY_TEXT), VALUES, max_size=6)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # ASCII escapes, so lone surrogates survive as "\udxxx"


BODIES = st.one_of(
    OBJECTS.map(_encode), VALUES.map(_encode), st.binary(max_size=200),
    st.integers(min_value=1, max_value=3000).map(lambda n: b'{"text": ' + b"[" * n + b"]" * n + b"}"),
)
HANDOFF_ACTIONS = ["renew", "release", "transfer", "reply", "notes", "close", "claim"]
ADMIN_PATHS = ["/api/roster", "/api/teams", "/api/roster/{n}/delete", "/api/officers/{n}/disable", "/api/me/password"]
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30)
CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                 "application/x-www-form-urlencoded", "Application/JSON", ""])
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


def _headers(ctype: str, extra: dict[str, str]) -> dict[str, Any]:
    headers: dict[str, Any] = {k: v.encode("latin-1") for k, v in extra.items()}
    headers["Content-Type"] = ctype
    return headers


def _clients(app, worker, admin):
    quiet = [TestClient(app, base_url="https://testserver", raise_server_exceptions=False,
                        cookies=c.cookies, headers=dict(c.headers)) for c in (worker, admin)]
    return quiet


def test_json_api_never_answers_5xx(console_app, engine, make_officer, client_for):
    officer, admin = make_officer(), make_officer("admin")
    worker, boss = _clients(console_app, client_for(officer), client_for(admin))
    hid = service.enqueue("conv-fuzz", channel="sms", language="en", engine=engine).handoff_id
    version = worker.post(f"/api/handoffs/{hid}/claim").json()["version"]
    statuses: set[int] = set()

    @FUZZ
    @given(
        action=st.sampled_from(HANDOFF_ACTIONS + ADMIN_PATHS),
        target=st.one_of(st.just(str(hid)), st.integers(-5, 10**12).map(str), st.text("0123456789abc%٣", max_size=8)),
        body=st.one_of(BODIES, OBJECTS.map(lambda o: _encode(dict(o, version=version)))),
        ctype=CONTENT_TYPES,
        extra=st.dictionaries(st.sampled_from(["X-CSRF-Token", "Origin", "Referer", "X-Haven-Background"]),
                              HEADER_TEXT, max_size=2),
    )
    def probe(action, target, body, ctype, extra):
        if action.startswith("/api/"):
            client, path = boss, action.replace("{n}", target)
            if "/disable" in path and target in (str(officer.id), str(admin.id)):
                return  # keep both fuzzing sessions alive
        else:
            client, path = worker, f"/api/handoffs/{target}/{action}"
        response = client.post(path, content=body, headers=_headers(ctype, extra))
        statuses.add(response.status_code)
        assert response.status_code < 500, (path, response.status_code, response.text[:200])

    probe()
    assert statuses - {200} and any(400 <= s < 500 for s in statuses)
    assert worker.get("/api/me").status_code == 200 and boss.get("/healthz").status_code == 200


def test_json_api_queries_never_answer_5xx(console_app, engine, make_officer, client_for):
    officer, admin = make_officer(), make_officer("admin")
    worker, boss = _clients(console_app, client_for(officer), client_for(admin))
    hid = service.enqueue("conv-fuzz-q", channel="sms", language="en", engine=engine).handoff_id
    worker.post(f"/api/handoffs/{hid}/claim")

    @FUZZ
    @given(
        path=st.sampled_from(["/api/queue?view=", f"/api/handoffs/{hid}?after=", "/api/roster?days=",
                              "/api/canned?language=", "/api/handoffs/", "/api/officers?x="]),
        value=st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
        as_admin=st.booleans(),
    )
    def probe(path, value, as_admin):
        from urllib.parse import quote

        response = (boss if as_admin else worker).get(path + quote(value, safe=""))
        assert response.status_code < 500, (path, value, response.status_code)

    probe()
    assert worker.get("/api/me").status_code == 200


def test_login_form_never_answers_5xx(console_app, make_officer):
    officer = make_officer()
    client = TestClient(console_app, base_url="https://testserver", raise_server_exceptions=False)
    client.get("/login")

    @FUZZ
    @given(
        fields=st.lists(st.tuples(st.sampled_from(["prelogin", "username", "password", "code"]) | ANY_TEXT, ANY_TEXT),
                        max_size=60),
        raw=st.one_of(st.none(), st.binary(max_size=300)),
        ctype=CONTENT_TYPES,
        cookie=st.one_of(st.none(), HEADER_TEXT),
    )
    def probe(fields, raw, ctype, cookie):
        from urllib.parse import urlencode

        body = raw if raw is not None else urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                                                      for k, v in fields]).encode()
        headers = _headers(ctype, {"Cookie": "__Host-haven_prelogin=" + cookie} if cookie is not None else {})
        response = client.post("/login", content=body, headers=headers, follow_redirects=False)
        assert response.status_code < 500, (response.status_code, response.text[:200])

    probe()
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
