"""One load generator for the cluster tests and `make bench-cluster`: many conversations, several
messages each, a bounded number in flight; REST or signed Twilio SMS webhooks (retried like Twilio)."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlencode

import httpx


@dataclass
class Sent:
    """One message of the load and what came back."""

    conversation: str
    index: int
    text: str
    sent_at: float = 0.0
    done_at: float = 0.0
    status: int = 0
    replies: list[Any] = field(default_factory=list)
    attempts: int = 0


def texts(per_conversation: int) -> list[str]:
    """Ordinary, harmless turns (no quick-exit or danger words), numbered so each is recognisable."""
    base = ["hello", "what can you do", "thanks", "ok", "hi there"]
    return [f"{base[k % len(base)]} {k}" for k in range(per_conversation)]


async def rest_load(url: str, conversations: list[str], per_conversation: int, in_flight: int = 20,
                    stagger: float = 0.02, timeout: float = 120.0) -> list[Sent]:
    """REST turns; a conversation's next message leaves `stagger` s after the previous one left
    (not after its reply), so one conversation has several turns in flight at once."""
    gate = asyncio.Semaphore(in_flight)
    sent: list[Sent] = []
    limits = httpx.Limits(max_connections=in_flight * 2, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def one(item: Sent) -> None:
            async with gate:
                item.sent_at = time.monotonic()
                item.attempts = 1
                resp = await client.post(f"{url}/webhooks/rest/webhook", json={"sender": item.conversation, "message": item.text})
                item.done_at, item.status = time.monotonic(), resp.status_code
                item.replies = list(resp.json()) if resp.status_code == 200 else []

        async def conversation(cid: str) -> None:
            tasks = []
            for k, text in enumerate(texts(per_conversation)):
                item = Sent(cid, k, text)
                sent.append(item)
                tasks.append(asyncio.create_task(one(item)))
                await asyncio.sleep(stagger)
            await asyncio.gather(*tasks)

        await asyncio.gather(*(conversation(c) for c in conversations))
    return sent


_sids = itertools.count(int(time.time() * 1000) % 10**12)


def twilio_form(account_sid: str, to: str, address: str, text: str) -> dict[str, str]:
    return {"MessageSid": f"SM{next(_sids):032x}"[:34], "AccountSid": account_sid, "From": address, "To": to,
            "Body": text, "NumMedia": "0"}


async def sms_load(url: str, public_url: str, auth_token: str, account_sid: str, to: str, addresses: list[str],
                   per_conversation: int, in_flight: int = 20, retry_after: float = 1.0, max_attempts: int = 8,
                   timeout: float = 15.0) -> list[Sent]:
    """Signed SMS webhooks, one conversation's messages in order (each after the previous was
    answered, as a phone sends them); an unanswered webhook (no 2xx: refused, reset, 5xx,
    timeout) is retried with the same MessageSid, as Twilio does."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(auth_token)
    path = "/webhooks/sms/webhook"
    gate = asyncio.Semaphore(in_flight)
    sent: list[Sent] = []
    async with httpx.AsyncClient(timeout=timeout) as client:

        async def one(item: Sent, form: dict[str, str]) -> None:
            headers = {"content-type": "application/x-www-form-urlencoded",
                       "x-twilio-signature": validator.compute_signature(public_url + path, form)}
            body = urlencode(form).encode()
            item.sent_at = time.monotonic()
            while item.attempts < max_attempts:
                item.attempts += 1
                try:
                    async with gate:
                        resp = await client.post(url + path, content=body, headers=headers)
                    item.status = resp.status_code
                    if 200 <= resp.status_code < 300:
                        break
                except httpx.HTTPError:
                    item.status = 0
                await asyncio.sleep(retry_after)
            item.done_at = time.monotonic()

        async def conversation(address: str) -> None:
            for k, text in enumerate(texts(per_conversation)):
                item = Sent(address, k, text)
                sent.append(item)
                await one(item, twilio_form(account_sid, to, address, text))

        await asyncio.gather(*(conversation(a) for a in addresses))
    return sent


def latency_summary(sent: list[Sent], wall: Optional[float] = None) -> dict[str, float]:
    """Messages/s, p50 and p99 latency (ms) of the answered messages."""
    from bench.stats import percentile

    done = [s for s in sent if s.status == 200]
    lat = [(s.done_at - s.sent_at) * 1000 for s in done]
    span = wall if wall is not None else (max(s.done_at for s in done) - min(s.sent_at for s in done)) if done else 0
    return {"messages": len(done), "per_s": len(done) / span if span else 0.0,
            "p50_ms": percentile(lat, 50) if lat else 0.0, "p99_ms": percentile(lat, 99) if lat else 0.0}


async def closed_loop(url: str, conversations: list[str], per_conversation: int, timeout: float = 120.0) -> list[Sent]:
    """REST turns where each conversation sends its next message when the last one was answered."""
    sent: list[Sent] = []
    limits = httpx.Limits(max_connections=len(conversations) + 5, max_keepalive_connections=len(conversations))
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def conversation(cid: str) -> None:
            for k, text in enumerate(texts(per_conversation)):
                item = Sent(cid, k, text, sent_at=time.monotonic(), attempts=1)
                sent.append(item)
                try:
                    resp = await client.post(f"{url}/webhooks/rest/webhook", json={"sender": cid, "message": text})
                    item.status = resp.status_code
                    item.replies = list(resp.json()) if resp.status_code == 200 else []
                except httpx.HTTPError:
                    item.status = 0
                item.done_at = time.monotonic()

        await asyncio.gather(*(conversation(c) for c in conversations))
    return sent
