"""The action + NLG server: rasa-sdk's Sanic app for `actions/`, extended with `/nlg`."""

from __future__ import annotations

import logging
from typing import Any, Optional

log = logging.getLogger("haven.action_server")


def _warm_up_gazetteer() -> None:
    """Build the place index in the background so the first "where can I go" does not wait."""
    import importlib.util
    import threading

    if importlib.util.find_spec("bot.directory.gazetteer") is None:
        return
    from bot.directory.gazetteer import import_spacy, warm_up

    # Import spaCy here, not in the thread: import_spacy briefly blocks TensorFlow imports
    # process-wide, which must not race with another thread importing it.
    import_spacy()
    threading.Thread(target=warm_up, daemon=True, name="gazetteer-warm-up").start()


def create_app() -> Any:
    """rasa-sdk's app (/health, /webhook, /actions) plus Haven's /nlg route."""
    from rasa_sdk.endpoint import create_app as create_sdk_app
    from sanic import response

    from bot import i18n
    from bot.nlg import render_request

    app = create_sdk_app("actions", cors_origins=[])
    require_secret(app)
    i18n.catalog()  # load and validate locales at start-up, not on the first message
    _warm_up_gazetteer()
    # app comes from untyped rasa_sdk (Any): register by a call, not @app...., so mypy keeps the
    # handlers' own types instead of making them untyped.

    async def nlg(request: Any) -> Any:
        body = request.json
        if not isinstance(body, dict) or not body.get("response"):
            return response.json({"error": "expected an NLG request with a response name"}, status=400)
        try:
            return response.json(render_request(body))
        except i18n.LocaleError as exc:
            log.error("nlg: %s", exc)
            return response.json({"error": "unknown response"}, status=404)

    app.post("/nlg")(nlg)

    async def _start_retention(app: Any, _loop: Any) -> None:
        app.add_task(retention_loop())

    app.listener("after_server_start")(_start_retention)

    return app


def require_secret(app: Any, secret: Optional[str] = None) -> None:
    """Every route but /health answers 401 unless the request carries the shared action secret."""
    import hmac

    from sanic import response

    from bot.settings import ACTION_SECRET_HEADER, get_settings

    expected = (secret if secret is not None else get_settings().action_secret).encode("utf-8")
    if not expected:
        raise RuntimeError("the action server needs HAVEN_ACTION_SECRET")

    async def _check_secret(request: Any) -> Any:
        if request.path == "/health":
            return None
        given = request.headers.get(ACTION_SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            log.warning("action server: request without the shared secret refused")
            return response.json({"error": "unauthorised"}, status=401)
        return None

    app.on_request(_check_secret)


RETENTION_INTERVAL_S = 3600


def retention_once(job: Any) -> int:
    """One retention run, unless another replica is running it now (bot/singleton.py)."""
    from bot.singleton import exclusive

    with exclusive("retention") as mine:
        return int(job()) if mine else 0


async def retention_loop(interval: float = RETENTION_INTERVAL_S) -> None:
    """The scheduled retention job: erase conversations idle past HAVEN_RETENTION_DAYS, hourly."""
    import asyncio

    import bot.handoff  # noqa: F401 - subscribes the handoff erase listener
    from bot.safety.erase import erase_idle_conversations

    while True:
        try:
            erased = await asyncio.to_thread(retention_once, erase_idle_conversations)
            if erased:
                log.info("retention: erased %d idle conversation(s)", erased)
        except Exception:  # noqa: BLE001 - the job must survive a transient database error
            log.exception("retention run failed; retrying next interval")
        await asyncio.sleep(interval)


def serve(host: str = "127.0.0.1", port: int = 5055) -> None:
    """Run the action + NLG server in this process (used by `haven run`)."""
    from bot.logging_setup import configure_logging

    configure_logging()
    app = create_app()
    app.run(host=host, port=port, workers=1, access_log=False, debug=False, motd=False)


if __name__ == "__main__":
    import sys

    serve(port=int(sys.argv[1]) if len(sys.argv) > 1 else 5055)
