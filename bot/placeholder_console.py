"""A placeholder officer console (replaced by bot.console.app when the console lands)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route


async def _index(request: object) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>Haven console</title><h1>Officer console</h1><p>Coming soon.</p>")


async def _health(request: object) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    return Starlette(routes=[Route("/", _index), Route("/health", _health)])
