"""The fields of a Telegram update Haven reads, checked for their JSON types before PTB sees them.

PTB's `Update.de_json` trusts the shape: a `text` that is a number, a `language_code` that is
an object or a latitude that is a word crash later (AttributeError, ValueError: a 500, and a
lost message). Each field is checked here against the Bot API's type; a wrong one is Malformed.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from channels.json_input import field, obj
from channels.pipeline import Malformed

NUMBER = (int, float)


def _user(user: Optional[Mapping[str, Any]]) -> None:
    if user is None:
        return
    field(user, "id", int, required=True)
    field(user, "is_bot", bool)
    for name in ("first_name", "last_name", "username", "language_code"):
        field(user, name, str)


def _location(loc: Optional[Mapping[str, Any]]) -> None:
    if loc is None:
        return
    for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
        value = field(loc, name, NUMBER, required=True)
        if abs(float(value)) > bound:
            raise Malformed("location out of range")


def _message(message: Optional[Mapping[str, Any]]) -> None:
    if message is None:
        return
    field(message, "message_id", int, required=True)
    field(message, "date", int, required=True)
    chat = obj(message, "chat", required=True)
    assert chat is not None
    field(chat, "id", int, required=True)
    field(chat, "type", str, required=True)
    _user(obj(message, "from"))
    for name in ("text", "caption"):
        field(message, name, str)
    _location(obj(message, "location"))
    venue = obj(message, "venue")
    if venue is not None:
        _location(obj(venue, "location"))


def check_update(data: Any) -> None:
    """Malformed unless every field Haven reads has its Bot API type."""
    if not isinstance(data, dict):
        raise Malformed("not a Telegram update")
    field(data, "update_id", int, required=True)
    for name in ("message", "edited_message"):
        _message(obj(data, name))
    query = obj(data, "callback_query")
    if query is not None:
        field(query, "id", str, required=True)
        _user(obj(query, "from"))
        field(query, "data", str)
        _message(obj(query, "message"))
