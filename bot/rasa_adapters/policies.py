"""TEDPolicy with its prediction for a dialogue state reused (a Rasa adapter).

Profiled through the whole path (`python -m bench.profile_turn`), TED's prediction was 43% of the
Rasa process's CPU per turn: a TensorFlow call for every action of every turn. Its output depends
only on the dialogue states it featurizes (the last `max_history` turns: intent, entities, slots,
previous action, active loop) when the model uses no user text (no end-to-end training stories),
so the same states always give the same prediction. `CachedTEDPolicy` keys a bounded LRU cache by
those states (as MemoizationPolicy keys its lookup) and runs the model only for states it has not
seen. With end-to-end text features, where her words would be part of the input, nothing is cached
and every prediction runs the model. The cache holds intent, slot and action names only, never her
words; it lives in the process and is lost with it.

Configured in config.yml as `bot.rasa_adapters.policies.CachedTEDPolicy` (training is TEDPolicy's).
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from typing import Any, Dict, Optional, Text

from rasa.core.featurizers.precomputation import MessageContainerForCoreFeaturization
from rasa.core.policies.policy import PolicyPrediction, SupportedData
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

CACHE_SIZE = 4096


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=True)
class CachedTEDPolicy(TEDPolicy):
    """TEDPolicy that runs its model once per distinct dialogue state (see the module docstring)."""

    def _prediction_cache(self) -> "OrderedDict[str, PolicyPrediction]":
        cache: Optional[OrderedDict[str, PolicyPrediction]] = getattr(self, "_haven_cache", None)
        if cache is None:
            cache = OrderedDict()
            self._haven_cache = cache
        return cache

    def cacheable(self) -> bool:
        """Only when the prediction cannot depend on her text (no end-to-end features)."""
        return self.model is not None and not self.only_e2e and TEXT not in (self.fake_features or {})

    def state_key(
        self, tracker: DialogueStateTracker, domain: Domain, rule_only_data: Optional[Dict[Text, Any]]
    ) -> str:
        """The states TED featurizes for this prediction, as one canonical string."""
        ml_only = self.supported_data() == SupportedData.ML_DATA
        states = self.featurizer.prediction_states(
            [tracker],
            domain,
            use_text_for_last_user_input=self.only_e2e,
            ignore_rule_only_turns=ml_only,
            rule_only_data=rule_only_data,
            ignore_action_unlikely_intent=ml_only,
        )
        return json.dumps(states, sort_keys=True, default=list)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        precomputations: Optional[MessageContainerForCoreFeaturization] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        if not self.cacheable():
            return super().predict_action_probabilities(tracker, domain, rule_only_data, precomputations, **kwargs)
        cache = self._prediction_cache()
        key = self.state_key(tracker, domain, rule_only_data)
        cached = cache.get(key)
        if cached is None:
            cached = super().predict_action_probabilities(tracker, domain, rule_only_data, precomputations, **kwargs)
            cache[key] = cached
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        answer = copy.copy(cached)
        answer.probabilities = list(cached.probabilities)
        answer.events = list(cached.events)
        answer.optional_events = list(cached.optional_events)
        return answer
