"""Bodies are capped for every route of the Rasa server before they are read (a real socket)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, AsyncIterator

import pytest
from sanic import Sanic, response

from tests.channels.conftest import TELEGRAM_SECRET, FakeRasa

_names = itertools.count()


@pytest.fixture
async def server(channel_env: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    """A real Sanic server (Rasa's HTTP stack, not ASGI) with the REST and Telegram webhooks."""
    import bot.rasa_adapters.patches as patches
    from channels.rest import RestInput
    from channels.telegram import TelegramInput

    monkeypatch.setenv("SANIC_REQUEST_MAX_SIZE", "100000000")  # Sanic's default; restored after the test
    monkeypatch.setattr(patches, "_installed", False)
    patches.install()  # what the Rasa server process runs before Rasa builds its Sanic app
    app = Sanic(f"haven_limits_{next(_names)}", configure_logging=False)
    rasa = FakeRasa()
    app.blueprint(RestInput.from_credentials(None).blueprint(rasa), url_prefix="/webhooks/rest")
    app.blueprint(TelegramInput.from_credentials(None).blueprint(rasa), url_prefix="/webhooks/telegram")

    @app.route("/other", methods=["POST"])
    async def other(request: Any) -> Any:
        return response.text(str(len(request.body)))

    srv = await app.create_server(host="127.0.0.1", port=0, return_asyncio_server=True)
    assert srv is not None
    await srv.startup()
    await srv.before_start()
    await srv.after_start()
    port = srv.server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        await srv.before_stop()
        await srv.close()
        await srv.after_stop()


async def _raw(port: int, head: str, body: bytes = b"") -> int:
    if "/telegram/" in head.split("\r\n", 1)[0]:  # authenticated: the cap, not the secret, answers
        head += f"\r\nX-Telegram-Bot-Api-Secret-Token: {TELEGRAM_SECRET}"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(status_line.split()[1])


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/webhooks/telegram/webhook", "/other"])
async def test_oversized_body_is_refused_before_it_is_read(server: int, path: str) -> None:
    """5 MB announced: 413 at once, without the server waiting for (or buffering) the body."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {5 * 1024 * 1024}"
    assert await _raw(server, head, b"{" * 1000) == 413


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/webhooks/telegram/webhook", "/other"])
async def test_non_numeric_content_length_is_a_400(server: int, path: str) -> None:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc"
    assert await _raw(server, head, b"{}") == 400
    # ...and the server is still up
    ok = f"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 2"
    assert await _raw(server, ok, b"{}") == 200
