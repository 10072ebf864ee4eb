"""The NLU pipeline keeps the danger backstop last, and the lexicon backstop itself works."""

from __future__ import annotations

import yaml
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.settings import ROOT


def test_danger_backstop_runs_after_every_classifier_including_fallback() -> None:
    names = [c["name"] for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]]
    assert names[-1] == "bot.rasa_adapters.components.DangerBackstop"
    assert names.index("FallbackClassifier") < names.index("bot.rasa_adapters.components.DangerBackstop")


def test_backstop_overrides_model_and_fallback_but_not_button_payloads() -> None:
    from bot.rasa_adapters.components import DangerBackstop

    flagged = Message({TEXT: "HE HAS A KNIFE!!", INTENT: {"name": "nlu_fallback", "confidence": 0.35},
                       INTENT_RANKING_KEY: [{"name": "disclose_abuse", "confidence": 0.5}]})
    calm = Message({TEXT: "where is the nearest clinic", INTENT: {"name": "find_service", "confidence": 0.9}})
    payload = Message({TEXT: "/affirm", INTENT: {"name": "affirm", "confidence": 1.0}})
    DangerBackstop().process([flagged, calm, payload])
    assert flagged.get(INTENT) == {"name": "immediate_danger", "confidence": 1.0}
    assert flagged.get("danger")["model_intent"] == "nlu_fallback"
    assert calm.get(INTENT)["name"] == "find_service"
    assert payload.get(INTENT)["name"] == "affirm"
