"""The console's request guard: sessions from cookies, roles, CSRF, deny by default.

Every route is built with `guarded(...)` or `public(...)`; `create_app` refuses to start if any
route is neither, so a forgotten check cannot ship. Guarded handlers receive a `Ctx` with the
live session; state-changing methods must carry the session's CSRF token (header
`X-CSRF-Token` for the JSON API, form field `csrf_token` for HTML forms) and, when the browser
sends one, an Origin matching the console's own host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Awaitable, Callable, Iterable, Optional, Union
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bot.staff import sessions
from bot.staff.sessions import SessionInfo

SESSION_COOKIE = "__Host-haven_session"
BACKGROUND_HEADER = "x-haven-background"  # set by the console's automatic refreshes
PRELOGIN_COOKIE = "__Host-haven_prelogin"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_JSON_BYTES = 32 * 1024
MAX_JSON_DEPTH = 16
MAX_FORM_FIELDS = 50

WORKERS = frozenset({"officer", "supervisor"})
SUPERVISORS = frozenset({"supervisor"})
OVERSIGHT = frozenset({"supervisor", "admin"})
ADMINS = frozenset({"admin"})
ANY_ROLE = frozenset({"officer", "supervisor", "admin"})


@dataclass(frozen=True)
class Ctx:
    """The authenticated caller of a guarded handler."""

    session: SessionInfo
    ip: Optional[str]

    @property
    def officer_id(self) -> int:
        return self.session.officer_id

    @property
    def role(self) -> str:
        return self.session.role


class ApiError(Exception):
    """An error answered as JSON {"error": code, "message": text} with an HTTP status."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.status, self.code, self.message = status, code, message or code


Handler = Callable[[Request, Ctx], Awaitable[Response]]


Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_ip(request: Request) -> Optional[str]:
    """The client's address: the peer, unless the peer is a trusted proxy (HAVEN_TRUSTED_PROXIES);
    then the right-most X-Forwarded-For hop that is not itself a trusted proxy."""
    peer = request.client.host if request.client else None
    console = getattr(request.app.state, "console", None)
    networks = _networks(tuple(console.settings.trusted_proxies)) if console is not None else ()
    if peer is None or not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed hop: do not trust anything left of it
    return peer


def same_secret(sent: Optional[str], expected: Optional[str]) -> bool:
    """Constant-time equality of two strings of any characters (compare_digest wants ASCII str)."""
    if not sent or not expected:
        return False
    return secrets.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def json_error(status: int, code: str, message: str = "") -> JSONResponse:
    return JSONResponse({"error": code, "message": message or code}, status_code=status)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    try:
        return urlsplit(origin).netloc == request.headers.get("host", "")
    except ValueError:  # e.g. "http://[" (not a URL)
        return False


async def form_fields(request: Request, limit: int = 16 * 1024) -> dict[str, str]:
    """An urlencoded form body (small; stdlib parser, so python-multipart is not needed)."""
    body = await request.body()
    if len(body) > limit:
        raise ApiError(413, "too_large")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type")
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as exc:  # more than MAX_FORM_FIELDS fields
        raise ApiError(400, "invalid", "too many form fields") from exc
    return dict(pairs)


def _check_shape(data: Any) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH or holding text that is not valid Unicode."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, "bad_json", "the JSON is nested too deeply")
        if isinstance(value, dict):
            stack.extend((k, depth) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone UTF-16 surrogate ("\ud800")
                raise ApiError(400, "bad_text", "text must be valid Unicode") from exc
            if "\x00" in value:  # PostgreSQL text cannot hold NUL
                raise ApiError(400, "bad_text", "text must not contain NUL characters")


async def json_body(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send application/json")
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large")
    try:
        data = json.loads(body or b"{}")
    except RecursionError as exc:
        raise ApiError(400, "bad_json", "the JSON is nested too deeply") from exc
    except ValueError as exc:
        raise ApiError(400, "bad_json") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "send a JSON object")
    _check_shape(data)
    return data


def guarded(handler: Handler, roles: Iterable[str], engine: Any) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: live session required, role in `roles`, CSRF on state-changing methods."""
    allowed = frozenset(roles)

    async def endpoint(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        # Only the officer's own actions count as activity for the idle timeout: the live stream
        # and refreshes it triggers do not keep an unattended console logged in.
        background = request.headers.get(BACKGROUND_HEADER) == "1" or request.url.path == "/api/events"
        info = await asyncio.to_thread(sessions.load, token, engine, None, not background) if token else None
        if info is None:
            if is_api(request):
                return json_error(401, "login_required")
            return RedirectResponse("/login", status_code=303)
        if info.role not in allowed:
            if is_api(request):
                return json_error(403, "forbidden")
            return Response("Forbidden", status_code=403, media_type="text/plain")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER)
            if sent is None and not is_api(request):
                try:
                    sent = (await form_fields(request)).get("csrf_token")
                except ApiError:
                    sent = None
            if not same_secret(sent, info.csrf_token) or not _same_origin(request):
                return json_error(403, "csrf") if is_api(request) else Response("Forbidden", 403, media_type="text/plain")
        try:
            return await handler(request, Ctx(info, client_ip(request)))
        except ApiError as exc:
            if is_api(request):
                return json_error(exc.status, exc.code, exc.message)
            return Response(exc.message, status_code=exc.status, media_type="text/plain")

    endpoint._haven_guard = "guarded"  # type: ignore[attr-defined]
    endpoint._haven_roles = allowed  # type: ignore[attr-defined]
    return endpoint


def public(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Mark an endpoint as deliberately open (login form, health check)."""

    async def endpoint(request: Request) -> Response:
        return await handler(request)

    endpoint._haven_guard = "public"  # type: ignore[attr-defined]
    return endpoint


def session_cookie_kwargs(secure: bool = True) -> dict[str, Any]:
    return {"httponly": True, "secure": secure, "samesite": "strict", "path": "/"}
