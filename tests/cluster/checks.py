"""Reading a cluster's trackers back and checking each conversation's turns."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bench.load import Sent


def trackers(database_url: str, conversations: list[str]) -> dict[str, list[Any]]:
    """Every conversation's events, decrypted from the tracker store the replicas share."""
    from bot.store.db import get_engine
    from bot.rasa_adapters.tracker_store import EncryptedTrackerStore

    from rasa.shared.core.domain import Domain

    from bot.settings import ROOT

    store = EncryptedTrackerStore(domain=Domain.load(str(ROOT / "domain")), engine=get_engine(database_url))

    async def read() -> dict[str, list[Any]]:
        out = {}
        for cid in conversations:
            tracker = await store.retrieve_full_tracker(cid)
            out[cid] = list(tracker.events) if tracker is not None else []
        return out

    return asyncio.run(read())


def turns(events: list[Any]) -> list[tuple[str, list[Any]]]:
    """(user text, the events up to the next user message) for every user message."""
    out: list[tuple[str, list[Any]]] = []
    for event in events:
        if isinstance(event, UserUttered):
            out.append((event.text or "", []))
        elif out:
            out[-1][1].append(event)
    return out


def problems(events: list[Any], sent: list[Sent], check_replies: bool = True, check_order: bool = True) -> list[str]:
    """What is wrong with one conversation (empty: every turn once, whole, in order, replies once)."""
    found = []
    got = turns(events)
    texts = [t for t, _ in got]
    expected = sorted(s.text for s in sent)
    if sorted(texts) != expected:
        missing = set(expected) - set(texts)
        found.append(f"turns: {len(texts)} recorded for {len(expected)} sent; {len(missing)} missing, "
                     f"{len(texts) - len(set(texts))} duplicated")
    for text, after in got:
        if not any(isinstance(e, ActionExecuted) and e.action_name == "action_listen" for e in after):
            found.append("a turn did not finish before the next began (interleaved)")
            break
    # In order: a message sent after another's reply came back is recorded after it.
    position = {t: i for i, t in enumerate(texts)}
    for a in sent if check_order else ():
        if any(b.sent_at > a.done_at and position.get(b.text, -1) < position.get(a.text, -1) for b in sent):
            found.append("a turn is recorded before one whose reply came back before it was sent")
            break
    by_text = {s.text: s for s in sent}
    for text, after in got if check_replies else ():
        bots = sum(isinstance(e, BotUttered) for e in after)
        if text in by_text and bots != len(by_text[text].replies):
            found.append(f"a turn's replies: {bots} in the tracker, {len(by_text[text].replies)} went out")
            break
    return found
