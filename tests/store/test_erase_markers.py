"""Erase is real: planted markers are readable through Haven's API before, and found nowhere after.

Scans the raw bytes of the SQLite main, -wal and -shm files, or a pg_dump of the PostgreSQL
schema, so the test proves the erase and not an empty database.
"""

from __future__ import annotations

import secrets

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered

from bot.crypto import get_or_create_cipher, load_cipher
from bot.safety.erase import erase_conversation
from bot.store.db import get_engine, session_scope
from bot.store.models import Contact, TelegramMessage
from bot.rasa_adapters.tracker_store import EncryptedTrackerStore
from tests.dbfiles import raw_bytes

DOMAIN = Domain.from_yaml(
    'version: "3.1"\nintents: [greet]\nslots:\n  note:\n    type: text\n    mappings: [{type: custom}]\n'
)


async def test_markers_readable_before_and_gone_after_erase(db_url: str) -> None:
    text_m, slot_m, phone_m, handoff_m, officer_m = (secrets.token_hex(16) for _ in range(5))
    chat_m = "".join(secrets.choice("123456789") for _ in range(32))  # a (numeric) Telegram id
    markers = [text_m, slot_m, phone_m, chat_m, handoff_m, officer_m]
    conv = "conv-" + secrets.token_hex(4)
    store = EncryptedTrackerStore(domain=DOMAIN, database_url=db_url)
    tracker = await store.get_or_create_tracker(conv)
    tracker.update(UserUttered(f"he took my phone {text_m}", {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("note", slot_m))
    await store.save(tracker)
    with session_scope() as s:
        cipher = get_or_create_cipher(s, conv)
        s.add(Contact(conversation_id=conv, channel="sms", address_ct=cipher.encrypt_text(phone_m, "contacts|address")))
        s.add(TelegramMessage(conversation_id=conv, direction="in", message_id_ct=cipher.encrypt_text(chat_m, "telegram_messages|in")))

    # A live officer chat: her message and the officer's reply in the encrypted transcript.
    from bot.staff.credentials import create_officer
    from bot.handoff import service as handoff

    engine = get_engine(db_url)
    officer = create_officer(f"officer-{secrets.token_hex(3)}", "correct horse battery staple 42", role="officer",
                             languages=["en"], engine=engine)
    queued = handoff.enqueue(conv, channel="sms", language="en", risk="disclosed", engine=engine)
    claimed = handoff.claim(queued.handoff_id, officer.officer_id, engine=engine)
    assert handoff.append_survivor_message(conv, f"he is asleep now {handoff_m}", engine=engine) is not None
    handoff.reply(queued.handoff_id, officer.officer_id, claimed.version, f"thank you {officer_m}", engine=engine)

    # Before: every marker is readable through Haven's own API, none is in clear in the raw bytes.
    again = await store.retrieve(conv)
    assert again.latest_message.text.endswith(text_m) and again.get_slot("note") == slot_m
    with session_scope() as s:
        cipher = load_cipher(s, conv)
        contact = s.get(Contact, conv)
        assert cipher.decrypt_text(contact.address_ct, "contacts|address") == phone_m
    from bot.handoff.queue import claimant_view

    transcript = " ".join(m.text for m in claimant_view(queued.handoff_id, officer.officer_id, engine=engine).messages)
    assert handoff_m in transcript and officer_m in transcript  # the claimant reads it, decrypted
    before = raw_bytes(db_url)
    assert len(before) > 0
    assert all(m.encode() not in before for m in markers)

    erase_conversation(conv, get_engine(db_url))

    assert await store.retrieve(conv) is None
    with session_scope() as s:
        assert load_cipher(s, conv) is None and s.get(Contact, conv) is None
    after = raw_bytes(db_url)
    for marker in markers:
        assert after.count(marker.encode()) == 0
