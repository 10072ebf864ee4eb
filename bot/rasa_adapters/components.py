"""Custom Rasa NLU components (a Rasa adapter: Rasa imports at top level by necessity).

DangerBackstop applies the one danger decision (bot/safety/danger.py) to the model's ranking: the
lexicon, P(immediate_danger) against validated thresholds, and third-party patterns. Danger sets
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
            decision = danger.decide(text, danger.danger_probability(ranking, intent), top)
            record = {**decision.as_dict(), "model_intent": intent.get("name"), "model_top": top}
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
