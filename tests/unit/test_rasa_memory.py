"""bot.rasa_adapters.memory: a model loaded for serving keeps no optimizer and predicts exactly as before;
jax stays out of the Rasa process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.utils.tensorflow.models import RasaModel

from bot.rasa_adapters import memory
from bot.rasa_adapters.policies import CachedTEDPolicy
from tests.unit.test_cached_ted import tracker, train_small_ted

CASES = [(("greet",), False), (("greet", "ask"), True), (("bye",), False), (("ask",), True)]


@pytest.fixture(scope="module")
def persisted(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalModelStorage, dict[str, Any], Domain]:
    _, storage, config, domain = train_small_ted(Path(tmp_path_factory.mktemp("ted-memory")), seed=3)
    return storage, config, domain


def _load(persisted: tuple[LocalModelStorage, dict[str, Any], Domain]) -> CachedTEDPolicy:
    storage, config, _ = persisted
    policy: CachedTEDPolicy = CachedTEDPolicy.load(config, storage, Resource("ted"), ExecutionContext(GraphSchema({}), "test"))
    return policy


def _predictions(policy: CachedTEDPolicy, domain: Domain) -> list[list[float]]:
    return [policy.predict_action_probabilities(tracker(domain, *intents, asked=asked), domain).probabilities
            for intents, asked in CASES]


def test_a_served_model_keeps_no_optimizer_and_predicts_the_same(
    persisted: tuple[LocalModelStorage, dict[str, Any], Domain], monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = persisted[2]
    plain = _load(persisted)
    assert plain.model is not None and plain.model.optimizer is not None  # what Rasa alone keeps
    before = _predictions(plain, domain)

    monkeypatch.setattr(RasaModel, "load", RasaModel.__dict__["load"])  # restored after the test
    monkeypatch.setattr(memory, "_installed", False)
    memory.install()
    served = _load(persisted)
    assert served.model is not None
    assert served.model.optimizer is None and served.model.train_function is None
    assert _predictions(served, domain) == before  # exactly equal, not approximately


def test_jax_is_not_imported_with_tensorflow_once_blocked() -> None:
    code = ("import sys; from bot.rasa_adapters.memory import block_jax; block_jax(); import tensorflow; "
            "import rasa.core.agent; print(sys.modules.get('jax') is None)")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
