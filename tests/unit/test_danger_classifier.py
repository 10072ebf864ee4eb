"""The dedicated danger classifier: the model (bot/danger_model.py) and its Rasa component."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.danger_model import DangerModel, ModelConfig, texting_normal
from bot.safety import danger
from bot.settings import ROOT

# Invented examples: danger wording vs everyday requests.
DANGER = [
    "he has a knife", "he is hitting me now", "he is outside my door", "he is choking me",
    "he said he will kill me tonight", "help he is breaking the door", "he is beating me right now",
    "he is coming with a knife", "he is hitting my sister now", "he locked me in and is hitting me",
]
SAFE = [
    "where is the nearest clinic", "thank you", "hello", "i want to talk to someone",
    "what are your opening hours", "how do i get a lawyer", "is this chat private", "goodbye",
    "i need information about shelters", "can you help me find a counsellor",
]


def _data() -> TrainingData:
    return TrainingData([Message({TEXT: t, INTENT: "immediate_danger"}) for t in DANGER]
                        + [Message({TEXT: t, INTENT: "find_service"}) for t in SAFE])


def test_texting_normalisation() -> None:
    assert texting_normal("PLEEEASE hes outside rn") == "please he is outside right now"
    assert texting_normal("Ayúdame xfa") == "ayudame por favor"
    assert texting_normal("vc tá aí?") == "voce ta ai"


def test_model_separates_danger_and_round_trips_without_pickle(tmp_path: Path) -> None:
    model = DangerModel(ModelConfig(C=10)).fit(DANGER + SAFE, [True] * len(DANGER) + [False] * len(SAFE))
    texts = ["he has a knife and is hitting me", "where is the clinic please", ""]
    p = model.predict(texts)
    assert p[0] > 0.5 > p[1] and p[2] == 0.0
    model.save(tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["model.json", "model.npz"]
    assert DangerModel.load(tmp_path).predict(texts) == pytest.approx(p)


def test_model_refuses_one_class_and_unfitted_use() -> None:
    with pytest.raises(ValueError):
        DangerModel().fit(DANGER, [True] * len(DANGER))
    with pytest.raises(RuntimeError):
        DangerModel().predict(["hello"])
    with pytest.raises(ValueError):
        ModelConfig(preprocess="stemmed")


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def test_component_trains_persists_loads_and_sets_probability(tmp_path: Path) -> None:
    from bot.rasa_adapters.danger_classifier import DangerClassifier

    storage = LocalModelStorage(tmp_path)
    resource = Resource("danger_classifier")
    trained = DangerClassifier.create({"C": 10}, storage, resource, _context())
    trained.train(_data())
    loaded = DangerClassifier.load({"C": 10}, storage, resource, _context())
    scary = Message({TEXT: "he is outside with a knife"})
    calm = Message({TEXT: "what are the clinic opening hours"})
    payload = Message({TEXT: "/affirm"})
    loaded.process([scary, calm, payload])
    assert scary.get(danger.CLASSIFIER_KEY) > 0.5 > calm.get(danger.CLASSIFIER_KEY)
    assert payload.get(danger.CLASSIFIER_KEY) is None
    again = Message({TEXT: "he is outside with a knife"})
    trained.process([again])
    assert again.get(danger.CLASSIFIER_KEY) == scary.get(danger.CLASSIFIER_KEY)


def test_component_without_both_classes_sets_nothing(tmp_path: Path) -> None:
    from bot.rasa_adapters.danger_classifier import DangerClassifier

    storage = LocalModelStorage(tmp_path)
    resource = Resource("danger_classifier")
    component = DangerClassifier.create({}, storage, resource, _context())
    component.train(TrainingData([Message({TEXT: t, INTENT: "find_service"}) for t in SAFE]))
    loaded = DangerClassifier.load({}, storage, resource, _context())
    message = Message({TEXT: "he has a gun"})
    loaded.process([message])
    assert message.get(danger.CLASSIFIER_KEY) is None


def test_backstop_thresholds_the_higher_of_classifier_and_intent_probability(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.rasa_adapters.components import DangerBackstop

    monkeypatch.setattr(danger, "thresholds", lambda: danger.Thresholds(danger=0.5, triage=0.2, third_party=0.5))
    ranking = [{"name": "ask_help", "confidence": 0.9}, {"name": "immediate_danger", "confidence": 0.01}]
    unseen = Message({TEXT: "he came back and the door is shaking", INTENT: {"name": "ask_help", "confidence": 0.9},
                      INTENT_RANKING_KEY: ranking, danger.CLASSIFIER_KEY: 0.7})
    unsure = Message({TEXT: "he came back and the door is shaking", INTENT: {"name": "ask_help", "confidence": 0.9},
                      INTENT_RANKING_KEY: ranking, danger.CLASSIFIER_KEY: 0.3})
    no_classifier = Message({TEXT: "he came back and the door is shaking",
                             INTENT: {"name": "ask_help", "confidence": 0.9}, INTENT_RANKING_KEY: ranking})
    DangerBackstop().process([unseen, unsure, no_classifier])
    assert unseen.get(INTENT)["name"] == "immediate_danger"
    assert unseen.get("danger")["p_classifier"] == 0.7 and unseen.get("danger")["p_intent"] == 0.01
    assert unsure.get(INTENT)["name"] == "danger_check"
    assert no_classifier.get(INTENT)["name"] == "ask_help" and no_classifier.get("danger")["p_classifier"] is None


def test_combined_probability() -> None:
    assert danger.combined_probability(0.1, 0.6) == 0.6
    assert danger.combined_probability(0.8, 0.2) == 0.8
    assert danger.combined_probability(0.3, None) == 0.3
    assert danger.combined_probability(None, None) is None


def test_pipeline_runs_the_classifier_just_before_the_backstop() -> None:
    names = [c["name"] for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]]
    assert names[-2:] == ["bot.rasa_adapters.danger_classifier.DangerClassifier",
                          "bot.rasa_adapters.components.DangerBackstop"]
