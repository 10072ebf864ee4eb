"""`haven chat`: talk to the running bot through the REST channel, buttons as numbered options."""

from __future__ import annotations

import secrets
import sys
from typing import Any, Optional

import httpx


def format_reply(message: dict[str, Any], start: int = 1) -> tuple[str, list[str]]:
    """A bot message as text with numbered options; returns (text, payloads in order)."""
    lines = [str(message.get("text") or "")]
    payloads = []
    for i, button in enumerate(message.get("buttons") or [], start=start):
        lines.append(f"  {i}. {button.get('title')}")
        payloads.append(str(button.get("payload")))
    return "\n".join(line for line in lines if line), payloads


def resolve_input(line: str, payloads: list[str]) -> str:
    """A number picks the matching option's payload; anything else is sent as typed."""
    stripped = line.strip()
    if stripped.isdigit() and 1 <= int(stripped) <= len(payloads):
        return payloads[int(stripped) - 1]
    return stripped


def chat(url: Optional[str] = None, sender: Optional[str] = None, metadata_language: Optional[str] = None) -> int:
    from bot.settings import get_settings

    base = (url or get_settings().rasa_url).rstrip("/")
    sender = sender or "chat-" + secrets.token_hex(6)
    endpoint = f"{base}/webhooks/rest/webhook"
    print(f"Talking to Haven at {base} (type ## to quick-exit, Ctrl-D to leave)\n")
    payloads: list[str] = []
    with httpx.Client(timeout=30) as client:
        while True:
            try:
                line = input("you> ")
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if not line.strip():
                continue
            body: dict[str, Any] = {"sender": sender, "message": resolve_input(line, payloads)}
            if metadata_language:
                body["metadata"] = {"language_hint": metadata_language}
            try:
                resp = client.post(endpoint, json=body)
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                print(f"error: could not reach the bot at {base} ({exc.__class__.__name__}). Is `make run` running?",
                      file=sys.stderr)
                return 1
            payloads = []
            for message in resp.json():
                text, new = format_reply(message, start=len(payloads) + 1)
                payloads += new
                if text:
                    print(f"bot> {text}")
            print()
