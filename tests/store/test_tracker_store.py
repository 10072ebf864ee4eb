"""The encrypted tracker store: round trip, nothing in clear, erase, tombstone, quick-exit turn."""

from __future__ import annotations

import secrets
import time

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from sqlalchemy import select, text

from bot.safety.erase import erase_conversation
from bot.store.db import get_engine, session_scope
from bot.store.models import TrackerEvent
from bot.rasa_adapters.tracker_store import EncryptedTrackerStore

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, quick_exit]
slots:
  note:
    type: text
    mappings: [{type: custom}]
"""
)


def _store(url: str) -> EncryptedTrackerStore:
    return EncryptedTrackerStore(domain=DOMAIN, database_url=url)


def _raw_dump(url: str) -> bytes:
    """Every column of every tracker row, as bytes (what an attacker with the DB file sees)."""
    with get_engine(url).connect() as conn:
        rows = conn.execute(text("SELECT * FROM tracker_events")).all()
    return b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for r in rows for v in r)


async def test_roundtrip_is_encrypted(db_url: str) -> None:
    marker = secrets.token_hex(16)
    store = _store(db_url)
    tracker = await store.get_or_create_tracker("conv-1")
    tracker.update(UserUttered(f"hello {marker}", {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("note", marker))
    await store.save(tracker)

    again = await store.retrieve("conv-1")
    assert again is not None
    assert again.latest_message.text == f"hello {marker}"
    assert again.get_slot("note") == marker
    dump = _raw_dump(db_url)
    assert b"greet" not in dump  # intent names say what she asked: only inside the ciphertext
    assert again.latest_message.intent["name"] == "greet"
    assert marker.encode() not in dump


async def test_save_only_appends_new_events(db_url: str) -> None:
    store = _store(db_url)
    tracker = await store.get_or_create_tracker("conv-2")
    tracker.update(UserUttered("one", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    tracker = await store.retrieve("conv-2")
    tracker.update(UserUttered("two", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    with session_scope() as s:
        n = len(s.execute(select(TrackerEvent).where(TrackerEvent.conversation_id == "conv-2")).all())
    assert n == 3  # action_listen + two user messages, none duplicated


async def test_erase_then_stale_save_does_not_resurrect(db_url: str) -> None:
    marker = secrets.token_hex(16)
    store = _store(db_url)
    tracker = await store.get_or_create_tracker("conv-3")
    tracker.update(UserUttered(marker, {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    in_flight = await store.retrieve("conv-3")  # a turn already holding the old tracker

    time.sleep(0.01)
    erase_conversation("conv-3")
    assert await store.retrieve("conv-3") is None

    await store.save(in_flight)  # the in-flight turn finishes after the erase
    assert await store.retrieve("conv-3") is None
    assert marker.encode() not in _raw_dump(db_url)


async def test_quick_exit_turn_erases_instead_of_saving(db_url: str) -> None:
    marker = secrets.token_hex(16)
    store = _store(db_url)
    tracker = await store.get_or_create_tracker("conv-4")
    tracker.update(UserUttered(marker, {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    tracker.update(UserUttered("delete all this", {"name": "quick_exit", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_quick_exit"))
    await store.save(tracker)
    assert await store.retrieve("conv-4") is None
    assert marker.encode() not in _raw_dump(db_url)


async def test_quick_exit_turn_announces_the_erase(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The side effects (Telegram deletion) subscribe to the erase event; the store imports none."""
    from bot.safety import erase

    monkeypatch.setattr(erase, "_erased_listeners", [])
    reports: list[erase.EraseReport] = []

    async def listener(report: erase.EraseReport) -> None:
        reports.append(report)

    erase.add_erased_listener(listener)
    store = _store(db_url)
    tracker = await store.get_or_create_tracker("conv-6")
    tracker.update(UserUttered("hello", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    assert reports == []  # an ordinary turn announces nothing
    tracker.update(UserUttered("delete all this", {"name": "quick_exit", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_quick_exit"))
    await store.save(tracker)
    assert [r.conversation_id for r in reports] == ["conv-6"] and reports[0].had_key


def test_rasa_loads_store_from_endpoint_config(haven_env) -> None:
    """endpoints.yml's module path resolves to this class (Rasa silently falls back otherwise)."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.settings import ROOT

    cfg = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    store = TrackerStore.create(cfg, DOMAIN)
    assert isinstance(store, EncryptedTrackerStore)
