"""Custom Rasa NLU components (a Rasa adapter: Rasa imports at top level by necessity).

DangerBackstop: a per-language keyword lexicon (locales/<lang>/lexicon.yml) that overrides the
model: a message the lexicon flags is `immediate_danger` with confidence 1.0, whatever DIET said
(SAFETY.md guarantee 5). The lexicon is read at run time, so editing it needs no retraining. The
model's own guess is kept in parse_data["danger_backstop"] for evaluation.
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

from bot.safety.lexicon import danger_match

DANGER_INTENT = "immediate_danger"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class DangerBackstop(GraphComponent):
    """Force `immediate_danger` when the danger lexicon matches (never for button payloads)."""

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
            phrase = danger_match(text)
            if phrase is None:
                continue
            model_intent = (message.get(INTENT) or {}).get("name")
            message.set(INTENT, {"name": DANGER_INTENT, "confidence": 1.0}, add_to_output=True)
            ranking = [r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get("name") != DANGER_INTENT]
            message.set(
                INTENT_RANKING_KEY, [{"name": DANGER_INTENT, "confidence": 1.0}, *ranking], add_to_output=True
            )
            message.set("danger_backstop", {"matched": True, "model_intent": model_intent}, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
