"""Rasa and the action/NLG server share a secret header; without it the server answers 401.

The Rasa side is Rasa's own code: endpoints.yml read by `read_endpoint_config` (with its
${VAR} expansion) and `CallbackNaturalLanguageGenerator` / `EndpointConfig.request` (aiohttp)
talking to a real action server on a loopback port.
"""

from __future__ import annotations

import itertools
from typing import Any, AsyncIterator

import pytest

from bot.runner import endpoints_for
from tests.asgi import asgi_client

SECRET = "action-secret-for-tests-0001"
NLG_BODY = {"response": "utter_main_menu", "arguments": {}, "tracker": {"slots": {"language": "en"}}, "channel": {"name": "rest"}}
_names = itertools.count()


@pytest.fixture
def app(haven_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    import bot.action_server as action_server
    from bot.settings import get_settings

    monkeypatch.setenv("HAVEN_ACTION_SECRET", SECRET)
    get_settings.cache_clear()
    monkeypatch.setattr(action_server, "_warm_up_gazetteer", lambda: None)
    from sanic import Sanic

    monkeypatch.setattr(Sanic, "_app_registry", {})  # rasa-sdk names every app "rasa_sdk"
    monkeypatch.setattr(Sanic, "test_mode", True)  # several apps per process, as sanic-testing does
    monkeypatch.setattr(Sanic, "add_task", lambda self, task: task.close())  # no retention loop here
    return action_server.create_app()


@pytest.mark.parametrize("path", ["/nlg", "/webhook"])
async def test_requests_without_the_secret_are_refused(app: Any, path: str) -> None:
    async with asgi_client(app) as client:
        assert (await client.post(path, json=NLG_BODY)).status_code == 401
        wrong = await client.post(path, json=NLG_BODY, headers={"X-Haven-Action-Secret": "action-secret-for-tests-0002"})
        assert wrong.status_code == 401
        assert (await client.get("/health")).status_code == 200  # the health check stays open
        good = await client.post("/nlg", json=NLG_BODY, headers={"X-Haven-Action-Secret": SECRET})
        assert good.status_code == 200 and good.json()["text"]


@pytest.fixture
async def served(app: Any) -> AsyncIterator[int]:
    srv = await app.create_server(host="127.0.0.1", port=0, return_asyncio_server=True)
    await srv.startup()
    await srv.before_start()
    await srv.after_start()
    try:
        yield srv.server.sockets[0].getsockname()[1]
    finally:
        await srv.before_stop()
        await srv.close()
        await srv.after_stop()


async def test_rasa_sends_the_secret_from_endpoints_yml(served: int, tmp_path: Any) -> None:
    """What Rasa reads from endpoints.yml makes its action calls carry the header; the /nlg callback
    (for a deployment that uses it instead of the in-process renderer) takes the same header."""
    from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator
    from rasa.core.nlg.generator import NaturalLanguageGenerator
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

    from bot.rasa_adapters.main import share_action_secret
    from bot.rasa_adapters.nlg import InProcessNLG

    share_action_secret()  # what bot.rasa_adapters.main does before Rasa reads endpoints.yml
    path = endpoints_for(served, tmp_path)
    nlg = read_endpoint_config(path, "nlg")
    action = read_endpoint_config(path, "action_endpoint")
    assert nlg is not None and action is not None
    assert action.headers == {"X-Haven-Action-Secret": SECRET}
    assert isinstance(NaturalLanguageGenerator.create(nlg, None), InProcessNLG)  # what Rasa builds from endpoints.yml
    callback = EndpointConfig(action.url.replace("/webhook", "/nlg"), headers=action.headers)
    reply = await CallbackNaturalLanguageGenerator(callback).generate("utter_main_menu", DialogueStateTracker("t", []), "rest")
    assert reply["text"]
    from rasa.utils.endpoints import ClientResponseError

    with pytest.raises(ClientResponseError) as err:  # past the secret check: the action is unknown
        await action.request(method="post", json={"next_action": "action_not_registered", "tracker": {}})
    assert err.value.status == 404 and b"No registered action" in str(err.value.text).encode()
