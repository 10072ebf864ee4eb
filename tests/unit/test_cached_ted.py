"""CachedTEDPolicy: a reused prediction is exactly the model's, and the model runs once per state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

from bot.rasa_adapters.policies import CachedTEDPolicy

DOMAIN = """
version: "3.1"
intents: [greet, ask, bye]
slots:
  asked: {type: bool, influence_conversation: true, mappings: [{type: custom}]}
actions: [utter_hi, utter_answer, utter_bye]
responses:
  utter_hi: [{text: hi}]
  utter_answer: [{text: answer}]
  utter_bye: [{text: bye}]
"""
STORIES = """
version: "3.1"
stories:
- story: greet then ask
  steps: [{intent: greet}, {action: utter_hi}, {intent: ask}, {slot_was_set: [{asked: true}]}, {action: utter_answer}]
- story: bye
  steps: [{intent: bye}, {action: utter_bye}]
"""


def train_small_ted(folder: Path, seed: int) -> tuple[CachedTEDPolicy, LocalModelStorage, dict[str, Any], Domain]:
    """A CachedTEDPolicy trained for 3 epochs on DOMAIN/STORIES, persisted in `folder`."""
    from rasa.shared.core.training_data.structures import StoryGraph

    domain = Domain.from_yaml(DOMAIN)
    steps = YAMLStoryReader(domain).read_from_string(STORIES)
    trackers = TrainingDataGenerator(StoryGraph(steps), domain, augmentation_factor=0).generate()
    config: dict[str, Any] = {**CachedTEDPolicy.get_default_config(), "epochs": 3, "random_seed": seed, "max_history": 3}
    storage = LocalModelStorage(folder)
    policy = CachedTEDPolicy.create(config, storage, Resource("ted"), ExecutionContext(GraphSchema({}), "test"))
    policy.train(trackers, domain)
    return policy, storage, config, domain


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[CachedTEDPolicy, Domain]:
    policy, _, _, domain = train_small_ted(Path(tmp_path_factory.mktemp("ted")), seed=1)
    return policy, domain


def tracker(domain: Domain, *intents: str, asked: bool = False) -> DialogueStateTracker:
    events: list[Any] = [ActionExecuted("action_listen")]
    for intent in intents:
        events += [UserUttered(f"some text {intent}", {"name": intent}), ActionExecuted("action_listen")]
    events = events[:-1]
    if asked:
        events.append(SlotSet("asked", True))
    return DialogueStateTracker.from_events("c1", events, domain.slots)


def test_a_cached_prediction_is_exactly_what_the_model_predicts(trained: tuple[CachedTEDPolicy, Domain]) -> None:
    policy, domain = trained
    assert policy.cacheable()
    for case in (("greet",), ("greet", "ask"), ("bye",)):
        for asked in (False, True):
            t = tracker(domain, *case, asked=asked)
            fresh = super(CachedTEDPolicy, policy).predict_action_probabilities(t, domain)
            first = policy.predict_action_probabilities(t, domain)
            again = policy.predict_action_probabilities(t, domain)
            assert first.probabilities == pytest.approx(fresh.probabilities, abs=1e-6)
            assert again.probabilities == first.probabilities and again is not first
            assert again.policy_name == fresh.policy_name and again.policy_priority == fresh.policy_priority


def test_the_model_runs_once_per_distinct_state_and_her_words_are_not_the_key(
    trained: tuple[CachedTEDPolicy, Domain], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy, domain = trained
    runs = []
    original = policy.model.run_inference  # type: ignore[union-attr]

    def counting(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(policy.model, "run_inference", counting)
    policy._prediction_cache().clear()
    one = tracker(domain, "greet", "ask")
    other_words = DialogueStateTracker.from_events(
        "c2", [ActionExecuted("action_listen"), UserUttered("hello there", {"name": "greet"}),
               ActionExecuted("action_listen"), UserUttered("a different question", {"name": "ask"})], domain.slots)
    policy.predict_action_probabilities(one, domain)
    policy.predict_action_probabilities(other_words, domain)  # same states, other words: no model run
    assert len(runs) == 1
    assert "some text" not in next(iter(policy._prediction_cache()))
    policy.predict_action_probabilities(tracker(domain, "bye"), domain)  # a new state: the model runs
    assert len(runs) == 2


def test_a_bounded_cache(trained: tuple[CachedTEDPolicy, Domain], monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.rasa_adapters.policies as policies

    policy, domain = trained
    monkeypatch.setattr(policies, "CACHE_SIZE", 2)
    policy._prediction_cache().clear()
    for case in (("greet",), ("bye",), ("greet", "ask"), ("ask",)):
        policy.predict_action_probabilities(tracker(domain, *case), domain)
    assert len(policy._prediction_cache()) == 2
