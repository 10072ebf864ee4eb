"""Custom Rasa NLU components (a Rasa adapter: Rasa imports at top level by necessity).

DangerBackstop applies the one danger decision (bot/safety/danger.py) to the model's ranking: the
lexicon, the danger probability against validated thresholds (danger.combined_probability: the
DangerClassifier's P set before it in config.yml, or DIET's P(immediate_danger) if higher), and
third-party patterns. Danger sets
`immediate_danger` (or `third_party_danger` when she names someone else) with confidence 1.0,
whatever DIET said (SAFETY.md guarantee 5); an unsure message becomes `danger_check` (a triage
turn) and keeps her own intent in parse_data["danger"]["original_intent"] (guarantee 10). The
lexicon and thresholds are read at run time, so editing them needs no retraining. The model's own
guess is kept in parse_data["danger"]["model_intent"] for evaluation.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.safety import danger


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class DangerBackstop(GraphComponent):
    """Apply the recall-first danger decision (never to button payloads)."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "DangerBackstop":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text: Optional[str] = message.get(TEXT)
            if not text or text.startswith("/"):
                continue
            intent = message.get(INTENT) or {}
            ranking = message.get(INTENT_RANKING_KEY) or []
            top = next((r.get("name") for r in ranking if r.get("name") != "nlu_fallback"), intent.get("name"))
            p_intent = danger.danger_probability(ranking, intent)
            p_classifier: Optional[float] = message.get(danger.CLASSIFIER_KEY)
            decision = danger.decide(text, danger.combined_probability(p_intent, p_classifier), top, p_intent=p_intent)
            record = {**decision.as_dict(), "model_intent": intent.get("name"), "model_top": top,
                      "p_intent": round(p_intent, 4),
                      "p_classifier": None if p_classifier is None else round(float(p_classifier), 4)}
            new_intent = danger.outcome_intent(decision, intent.get("name"))
            if new_intent != intent.get("name"):
                record["original_intent"] = intent.get("name")
                others = [r for r in ranking if r.get("name") != new_intent]
                message.set(INTENT, {"name": new_intent, "confidence": 1.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [{"name": new_intent, "confidence": 1.0}, *others], add_to_output=True)
            message.set(danger.PARSE_KEY, record, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
