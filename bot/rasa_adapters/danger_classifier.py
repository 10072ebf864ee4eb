"""DangerClassifier: the dedicated, trainable danger model inside the Rasa NLU pipeline (issue 11).

A Rasa adapter around bot/danger_model.py. It trains on the intent examples (label: the intent is
immediate_danger), with its own vectorisers (it reads the text, not Rasa's sparse features), is
persisted through Rasa's model storage as plain data (JSON + .npz, no pickle), and sets
`danger_probability` on each message (also in parse data). DangerBackstop, after it in config.yml,
thresholds that probability (bot/safety/danger.py:combined_probability).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.danger_model import DangerModel, ModelConfig
from bot.safety import danger

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class DangerClassifier(GraphComponent):
    """P(danger) from a binary, class-balanced model; never overrides the intent itself."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        defaults = ModelConfig()
        return {"preprocess": defaults.preprocess, "char_min": defaults.char_min, "char_max": defaults.char_max,
                "word_max": defaults.word_max, "C": defaults.C, "max_features": defaults.max_features}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[DangerModel] = None) -> None:
        merged = {**self.get_default_config(), **config}
        self._config = ModelConfig(**{k: merged[k] for k in self.get_default_config()})
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "DangerClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        labels = [e.get(INTENT) == danger.DANGER_INTENT for e in examples]
        if not any(labels) or all(labels):
            logger.warning("DangerClassifier not trained: it needs danger and non-danger examples")
            return self._resource
        self._model = DangerModel(self._config).fit([e.get(TEXT) for e in examples], labels)
        with self._model_storage.write_to(self._resource) as folder:
            self._model.save(folder)
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "DangerClassifier":
        try:
            with model_storage.read_from(resource) as folder:
                model: Optional[DangerModel] = DangerModel.load(folder)
        except (ValueError, FileNotFoundError):  # trained without both classes: no model, no probability
            logger.warning("DangerClassifier: no trained model in this model file")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        todo = [m for m in messages if m.get(TEXT) and not str(m.get(TEXT)).startswith("/")]
        for message, p in zip(todo, self._model.predict([str(m.get(TEXT)) for m in todo])):
            message.set(danger.CLASSIFIER_KEY, round(p, 6), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
