"""Performance patches applied in the Rasa server process only (a Rasa adapter).

RemoteAction._validate_action_result calls `jsonschema.validate(result, schema)` for every
custom-action reply. With jsonschema 4.17 (Rasa 3.6's pin, <4.18) that re-validates the *schema*
against its metaschema on every call: about 22 ms of CPU, measured as 60% of the Rasa process's
time per turn (cProfile, 60 turns). The patch builds the validator once for the same, static
schema; results are validated exactly as before and errors carry the same message.
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

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    _installed = True
