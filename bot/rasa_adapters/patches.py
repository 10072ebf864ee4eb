"""Performance patches applied in the Rasa server process only (a Rasa adapter).

RemoteAction._validate_action_result calls `jsonschema.validate(result, schema)` for every
custom-action reply. With jsonschema 4.17 (Rasa 3.6's pin, <4.18) that re-validates the *schema*
against its metaschema on every call: about 22 ms of CPU, measured as 60% of the Rasa process's
time per turn (cProfile, 60 turns). The patch builds the validator once for the same, static
schema; results are validated exactly as before and errors carry the same message.

Request bodies (`cap_request_bodies`): Sanic's own limit (REQUEST_MAX_SIZE, 100 MB by default)
is set to HAVEN_MAX_BODY_BYTES for every route of the Rasa server, so an oversized body is
refused (413) from its Content-Length before it is read; and a Content-Length that is not a
number is a 400, not the 500 of Sanic 21.12 (it calls int() outside its header try-block).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

_installed = False


def install() -> None:
    """Install the patches (idempotent)."""
    global _installed
    if _installed:
        return
    from jsonschema import ValidationError, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    cache: Dict[str, Any] = {}

    def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        validator: Optional[Any] = cache.get("validator")
        if validator is None:
            schema = self.action_response_format_spec()
            cls = validators.validator_for(schema)
            cls.check_schema(schema)  # once, instead of once per action call
            validator = cache["validator"] = cls(schema)
        try:
            validator.validate(result)
            return True
        except ValidationError as e:
            e.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
            raise e

    RemoteAction._validate_action_result = _validate_action_result
    cap_request_bodies()
    _installed = True


def cap_request_bodies(max_bytes: Optional[int] = None) -> None:
    """Every Sanic app made from now on refuses bodies over `max_bytes` and bad Content-Lengths."""
    import os

    from sanic.exceptions import InvalidUsage
    from sanic.http import Http

    if max_bytes is None:
        from bot.settings import get_settings

        max_bytes = get_settings().max_body_bytes
    os.environ["SANIC_REQUEST_MAX_SIZE"] = str(max_bytes)  # read by every new sanic.Config
    if getattr(Http.error_response, "_haven", False):
        return
    original = Http.error_response  # (not one of the methods Sanic's TouchUp recompiles)

    async def error_response(self: Any, exception: Exception) -> None:
        if isinstance(exception, ValueError) and self.request is None:
            # Raised while reading the request head (int() of a bad Content-Length).
            exception = InvalidUsage("Bad Request")
        await original(self, exception)

    error_response._haven = True  # type: ignore[attr-defined]
    Http.error_response = error_response  # type: ignore[method-assign]