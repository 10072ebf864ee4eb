"""A submitted statement is readable before withdraw and found nowhere in the raw database after."""

from __future__ import annotations

import secrets
from typing import Any

from bot.reporting import desk as svc, intake
from bot.reporting.models import CaseKey, ReportCase
from bot.safety.erase import erase_conversation
from bot.store.db import session_scope
from tests.dbfiles import raw_bytes
from tests.reporting.conftest import consent, draft


def test_statement_survives_quick_exit_and_is_gone_after_withdraw(db_url: str, engine: Any, desk: Any,
                                                                   make_officer: Any) -> None:
    statement_m, note_m, place_m, number_m = (secrets.token_hex(16) for _ in range(4))
    conv = "conv-" + secrets.token_hex(4)
    result = intake.submit(conv, draft(statement=f"he came back {statement_m}",
                                       place={"name": place_m, "region": "Nairobi", "country": "KE"},
                                       contact={"mode": "other_number", "number": number_m[:30]}),
                           consent(), channel="sms", language="en", country="KE", engine=engine)
    officer = make_officer(team_id=desk.team_id)
    svc.add_note(result.case_id, officer.id, f"follow up {note_m}", engine=engine)
    markers = [statement_m, note_m, place_m, number_m[:30]]

    erase_conversation(conv, engine)  # quick exit: the case is kept for the desk
    detail = svc.case_detail(result.case_id, officer.id, engine=engine)
    assert statement_m in (detail.statement or "") and note_m in detail.entries[0].text
    assert detail.answers["place"]["name"] == place_m and detail.contact["number"] == number_m[:30]
    before = raw_bytes(db_url)
    assert len(before) > 0 and all(m.encode() not in before for m in markers)  # encrypted at rest
    # What an attacker could keep and later decrypt: the ciphertext and the wrapped case key.
    with session_scope(engine) as s:
        stored = [s.get(ReportCase, result.case_id).statement_ct, s.get(CaseKey, result.case_id).wrapped_key]
    leftovers = [result.reference.encode(), *(stored if db_url.startswith("sqlite") else [])]
    if not db_url.startswith("sqlite"):  # pg_dump prints bytea as hex
        leftovers += [b.hex().encode() for b in stored]
    assert all(item in before for item in leftovers)

    intake.withdraw(result.reference, conv, engine=engine)

    after = raw_bytes(db_url)
    for marker in markers:
        assert after.count(marker.encode()) == 0
    for item in leftovers:
        assert item not in after
