"""Reading a JSON webhook body safely: bounded depth, no lone UTF-16 surrogates, typed fields.

Every failure is `Malformed` (a 400 with a content-free reason), never a 500: a body nested too
deeply for the parser (RecursionError), a string holding a lone surrogate (`"\\ud800"`, which no
UTF-8 encoder, database driver or provider accepts), or a field of the wrong JSON type.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Optional

from channels.pipeline import Malformed

MAX_DEPTH = 32  # Telegram updates nest about 6 deep; REST messages 3


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Malformed("JSON nested too deeply")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Malformed("a string is not valid Unicode") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise Malformed("a number is not finite")


def load_json(body: bytes) -> Any:
    """Parse a JSON body; Malformed if it is not JSON, too deep, or holds invalid Unicode."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Malformed("body is not JSON") from exc
    _check(data, 0)
    return data


def field(obj: Mapping[str, Any], name: str, kind: Any, required: bool = False) -> Any:
    """`obj[name]` if it has JSON type `kind` (bool is never an int here); Malformed otherwise."""
    value = obj.get(name)
    if value is None:
        if required:
            raise Malformed(f"{name} missing")
        return None
    if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise Malformed(f"{name} has the wrong type")
    if not isinstance(value, kind):
        raise Malformed(f"{name} has the wrong type")
    return value


def obj(parent: Mapping[str, Any], name: str, required: bool = False) -> Optional[Mapping[str, Any]]:
    return field(parent, name, dict, required)  # type: ignore[no-any-return]
