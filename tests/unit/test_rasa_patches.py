"""The cached action-result validator accepts and rejects exactly what Rasa's own check does."""

from __future__ import annotations

import copy

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

GOOD = {"events": [{"event": "slot", "name": "language", "value": "sw"}], "responses": [{"response": "utter_x"}]}
BAD = [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}, {"events": [{"event": 5}]}, {"responses": "x"}]
LOOSE = {"responses": [{"text": 5}], "events": []}  # Rasa's schema does not type response fields


def test_same_verdicts_as_rasas_own_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.rasa_adapters.patches import install

    monkeypatch.setenv("SANIC_REQUEST_MAX_SIZE", "100000000")  # install() sets it for the Rasa process
    schema = RemoteAction.action_response_format_spec()
    install()
    action = RemoteAction("action_x", None)
    assert action._validate_action_result(copy.deepcopy(GOOD)) is True
    validate(LOOSE, schema)
    assert action._validate_action_result(copy.deepcopy(LOOSE)) is True
    for bad in BAD:
        with pytest.raises(ValidationError) as patched:
            action._validate_action_result(copy.deepcopy(bad))
        with pytest.raises(ValidationError):
            validate(bad, schema)  # the unpatched behaviour rejects it too
        assert "Failed to validate Action server response" in patched.value.message
