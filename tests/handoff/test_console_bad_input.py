"""Issue 10, "bad input gets a clear 4xx, never a 500" (console rows): each row of
testdata/console_bad_input.json is sent to the real app and must get its 4xx, store nothing in the
tables it names, and send nothing to her phone. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from bot.handoff import service
from bot.store.db import session_scope

ROWS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "testdata" / "console_bad_input.json").read_text("utf-8"))


def counts(engine, tables):
    with session_scope(engine) as s:
        return {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def fill(value: str, values: dict[str, str]) -> str:
    for key, replacement in values.items():
        value = value.replace(key, replacement)
    return value


@pytest.mark.parametrize("row", ROWS, ids=[r["label"] for r in ROWS])
def test_bad_input_row(row, console_app, engine, make_officer, client_for, outbound):
    officer, admin = make_officer(), make_officer("admin")
    hid = service.enqueue("conv-bad-input", channel="sms", language="en", engine=engine).handoff_id
    worker = client_for(officer)
    version = worker.post(f"/api/handoffs/{hid}/claim").json()["version"]
    if row["as"] == "anon":
        client = TestClient(console_app, base_url="https://testserver", raise_server_exceptions=False)
        prelogin = re.search(r'name="prelogin" value="([^"]+)"', client.get("/login").text).group(1)
    else:
        client = worker if row["as"] == "officer" else client_for(admin)
        client = TestClient(console_app, base_url="https://testserver", raise_server_exceptions=False,
                            cookies=client.cookies, headers=dict(client.headers))
        prelogin = ""
    values = {
        "__HID__": str(hid), "__VERSION__": str(version), "__OFFICER_ID__": str(officer.id),
        "__OFFICER__": officer.username, "__PASSWORD__": officer.password, "__CODE__": officer.code(1),
        "__PRELOGIN__": prelogin, "__DEEP_4000__": "[" * 4000 + "]" * 4000, "__DEEP_17__": "[" * 17 + "]" * 17,
        "__LONG_81__": "x" * 81,
    }
    headers = {k: fill(v, values).encode("utf-8") for k, v in row.get("headers", {}).items()}
    if "form" in row or "form_fields" in row:
        pairs = [(k, fill(v, values)) for k, v in row.get("form", {}).items()]
        pairs += [(f"f{i}", "x") for i in range(row.get("form_fields", 0))]
        headers["Content-Type"] = b"application/x-www-form-urlencoded"
        body = urlencode(pairs).encode()
    else:
        headers["Content-Type"] = b"application/json"
        body = fill(row["json_raw"], values).encode("utf-8")
    before = counts(engine, row["unchanged"])
    sent_before = len(outbound.sent)
    response = client.request(row["method"], fill(row["path"], values), content=body, headers=headers, follow_redirects=False)
    assert response.status_code == row["status"], response.text[:300]
    if "error" in row:
        assert response.json()["error"] == row["error"]
    assert counts(engine, row["unchanged"]) == before, "something was stored"
    if row.get("nothing_sent"):
        assert len(outbound.sent) == sent_before
    assert "MRK-" not in response.text  # errors never echo what was sent
    assert worker.get("/api/me").status_code == 200 and client.get("/healthz").status_code == 200
