"""The running stack for end-to-end tests: trained model, action/NLG server, Rasa, temp database."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from bot.runner import TempStack, temp_stack
from tests.conftest import TEST_KEYS


class Stack:
    """A running stack plus a REST helper; `log_path` holds every process's output at DEBUG."""

    def __init__(self, info: TempStack) -> None:
        self.info = info
        self.rasa_url, self.action_url = info.rasa_url, info.action_url
        self.database_url, self.env = info.database_url, info.env
        self.log_path = Path(info.log_path or "")

    def send(self, sender: str, message: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": sender, "message": message}
        if metadata:
            body["metadata"] = metadata
        resp = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
        resp.raise_for_status()
        return list(resp.json())


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot.model import train_if_needed

    return train_if_needed()


@pytest.fixture(scope="session")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    env = dict(TEST_KEYS, HAVEN_LOG_LEVEL="DEBUG", LOG_LEVEL="DEBUG", HAVEN_DEFAULT_COUNTRY="KE")
    with temp_stack(str(folder), env, log_path=str(folder / "stack.log"), rasa_debug=True) as info:
        yield Stack(info)
