"""A fake Twilio + Telegram Bot API on 127.0.0.1: records every request, replays canned responses.

Point HAVEN_TWILIO_API_BASE and HAVEN_TELEGRAM_API_BASE at `FakeProvider.url`. Routes:
  POST /2010-04-01/Accounts/{sid}/Messages.json     Twilio "create message"  (route key "twilio")
  POST /bot{token}/{method}                         Telegram Bot API          (route key "telegram:<method>")
  GET  /__fake__/requests?after=N                   recorded requests (JSON), for other processes
  GET  /__fake__/wait?to=ADDR&after=N&count=K&timeout=S   long-poll until K requests to ADDR
Canned responses are queued per route key with `script(key, Canned(...), ...)`; when the queue is
empty the route answers with a realistic success. Run standalone for a running stack:
  python -m tests.fakes.provider --port 8999
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qs

from aiohttp import web


JSON_FIELDS = frozenset({"reply_markup", "message_ids", "allowed_updates"})


@dataclass
class Canned:
    """One scripted response: status, JSON body, extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    """One request the fake received (Authorization is not kept)."""

    seq: int
    ts: float
    key: str
    path: str
    form: dict[str, Any]
    recipient: Optional[str]

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "key": self.key, "path": self.path, "form": self.form, "recipient": self.recipient}


def twilio_error(code: int, status: int = 400, message: str = "error") -> Canned:
    return Canned(status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})


def telegram_error(code: int, description: str, retry_after: Optional[int] = None) -> Canned:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Canned(code, body)


class FakeProvider:
    """The fake server; use `async with FakeProvider() as fake:` or start()/stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.requests: list[Recorded] = []
        self._scripts: dict[str, list[Canned]] = {}
        self._seq = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._runner: Optional[web.AppRunner] = None

    # -- control
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, key: str, *responses: Canned) -> None:
        self._scripts.setdefault(key, []).extend(responses)

    def of(self, key_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.key.startswith(key_prefix)]

    def clear(self) -> None:
        self.requests.clear()
        self._scripts.clear()

    async def wait_for(self, count: int, key_prefix: str = "", timeout: float = 5.0) -> list[Recorded]:
        """Wait until at least `count` requests with the key prefix arrived; returns them."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while len(self.of(key_prefix)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except asyncio.TimeoutError:
                    break
        return self.of(key_prefix)

    async def start(self) -> "FakeProvider":
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio)
        app.router.add_post("/bot{token}/{method}", self._telegram)
        app.router.add_get("/__fake__/requests", self._list)
        app.router.add_get("/__fake__/wait", self._wait)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeProvider":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- handlers
    async def _record(self, key: str, request: web.Request, form: dict[str, Any], recipient: Optional[str]) -> Optional[Canned]:
        entry = Recorded(next(self._seq), time.time(), key, request.path, form, recipient)
        async with self._changed:
            self.requests.append(entry)
            self._changed.notify_all()
        queue = self._scripts.get(key)
        return queue.pop(0) if queue else None

    @staticmethod
    def _reply(canned: Canned) -> web.Response:
        return web.json_response(canned.body, status=canned.status, headers=canned.headers)

    async def _twilio(self, request: web.Request) -> web.Response:
        raw = (await request.read()).decode("utf-8")
        form = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw, keep_blank_values=True).items()}
        canned = await self._record("twilio", request, form, form.get("To"))
        if canned is not None:
            return self._reply(canned)
        sid = "SM" + f"{len(self.requests):032x}"
        return web.json_response(
            {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"), "body": form.get("Body"),
             "account_sid": request.match_info["sid"], "num_segments": "1", "error_code": None},
            status=201,
        )

    async def _telegram(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        form: dict[str, Any]
        if request.content_type == "application/json":
            form = json.loads(raw or b"{}")
        else:
            # PTB posts form fields; structured ones (keyboards, id lists) are JSON strings.
            form = {}
            for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items():
                form[k] = json.loads(v[0]) if k in JSON_FIELDS else v[0]
        recipient = str(form["chat_id"]) if "chat_id" in form else None
        canned = await self._record(f"telegram:{method}", request, form, recipient)
        if canned is not None:
            return self._reply(canned)
        if method == "sendMessage":
            result: Any = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(form.get("chat_id", 0)), "type": "private"},
                "from": {"id": 1, "is_bot": True, "first_name": "bot"},
                "text": form.get("text", ""),
            }
        elif method == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "bot", "username": "fake_bot"}
        else:
            result = True
        return web.json_response({"ok": True, "result": result})

    async def _list(self, request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0"))
        return web.json_response([r.as_dict() for r in self.requests if r.seq > after])

    async def _wait(self, request: web.Request) -> web.Response:
        to = request.query.get("to")
        after = int(request.query.get("after", "0"))
        count = int(request.query.get("count", "1"))
        timeout = float(request.query.get("timeout", "10"))
        deadline = time.monotonic() + timeout

        def matching() -> list[Recorded]:
            return [r for r in self.requests if r.seq > after and (to is None or r.recipient == to)]

        async with self._changed:
            while len(matching()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except asyncio.TimeoutError:
                    break
        return web.json_response([r.as_dict() for r in matching()])


async def _serve(host: str, port: int) -> None:
    fake = await FakeProvider(host, port).start()
    print(f"fake provider listening on {fake.url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Twilio + Telegram provider for local stacks and benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
