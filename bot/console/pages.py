"""Server-rendered pages (Jinja2): login, queue, conversation, dashboard, admin.

Pages render the first view on the server; `static/console.js` then keeps them live through the
JSON API and server-sent events. Only login and logout are plain HTML form posts.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot import audit
from bot.staff import sessions
from bot.staff import credentials as auth
from bot.staff import throttle
from bot.console.api import Api, call
from bot.handoff.queue import conversation_of
from bot.console.canned import canned_replies
from bot.console.web import (
    ADMINS,
    ANY_ROLE,
    OVERSIGHT,
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    SUPERVISORS,
    WORKERS,
    ApiError,
    Ctx,
    client_ip,
    form_fields,
    guarded,
    public,
    same_secret,
    session_cookie_kwargs,
)
from bot.handoff import queue
from bot.staff import roster
from bot.handoff.models import OUTCOMES
from bot.store.models import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from bot.console.context import Console

OUTCOME_LABELS = {
    "referred": "Referred to a service",
    "information_given": "Information given",
    "report_taken": "Report taken",
    "no_response": "No response",
    "left": "She left the conversation",
}


def chart_bars(chart: list[dict[str, Any]], width: int = 480, height: int = 120) -> list[dict[str, Any]]:
    """Bar geometry for the 24-hour median-wait chart (drawn as inline SVG, no script)."""
    peak = max([c["median_wait_minutes"] or 0 for c in chart] + [1])
    step = width / max(1, len(chart))
    bars = []
    for i, c in enumerate(chart):
        value = c["median_wait_minutes"] or 0
        h = round(value / peak * (height - 14), 1)
        bars.append({"x": round(i * step + 1, 1), "y": round(height - h, 1), "w": round(step - 2, 1), "h": h,
                     "label": f"{c['hours_ago']}h ago: median {value} min over {c['count']}"})
    return bars


class Pages:
    def __init__(self, console: "Console") -> None:
        self.c = console
        self.api = Api(console)

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return self.c.templates.TemplateResponse(request, name, context, status_code=status)

    # ---------------------------------------------------------------- login / logout
    async def login_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = self.render(request, "login.html", status=status, prelogin=token, error=error)
        response.set_cookie(PRELOGIN_COOKIE, token, max_age=900, **session_cookie_kwargs())
        return response

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return await self.login_form(request)
        try:
            fields = await form_fields(request)
        except ApiError as exc:
            return Response(exc.message, status_code=exc.status, media_type="text/plain")
        cookie = request.cookies.get(PRELOGIN_COOKIE, "")
        sent = fields.get("prelogin", "")
        if not same_secret(sent, cookie):
            return await self.login_form(request, "Your form expired. Please try again.", 403)
        ip = client_ip(request)
        result = await asyncio.to_thread(
            auth.authenticate, fields.get("username", ""), fields.get("password", ""), fields.get("code", ""), ip,
            self.c.engine, None, request.cookies.get(throttle.DEVICE_COOKIE),
        )
        if result.officer_id is None:
            if result.error == "throttled":
                return await self.login_form(request, "Too many attempts. Please wait and try again later.", 429)
            return await self.login_form(request, "Those details did not work.", 401)
        token = await asyncio.to_thread(sessions.create, result.officer_id, ip, self.c.engine)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, **session_cookie_kwargs())
        response.delete_cookie(PRELOGIN_COOKIE, **session_cookie_kwargs())
        if result.device_token:  # a known device: attackers elsewhere cannot slow this browser's logins
            response.set_cookie(throttle.DEVICE_COOKIE, result.device_token, max_age=throttle.DEVICE_DAYS * 86400,
                                **session_cookie_kwargs())
        return response

    async def logout(self, request: Request, ctx: Ctx) -> Response:
        await asyncio.to_thread(sessions.revoke, ctx.session.session_id, self.c.engine)
        await asyncio.to_thread(audit.record, "logout", self.c.engine, actor_id=ctx.officer_id, ip=ctx.ip)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, **session_cookie_kwargs())
        return response

    # ---------------------------------------------------------------- pages
    async def home(self, request: Request, ctx: Ctx) -> Response:
        if ctx.role == "admin":
            return RedirectResponse("/admin", status_code=303)
        unassigned = await asyncio.to_thread(self.api._queue, "unassigned", ctx.officer_id)
        mine = await asyncio.to_thread(self.api._queue, "mine", ctx.officer_id)
        everything = await asyncio.to_thread(self.api._queue, "all", ctx.officer_id) if ctx.role in SUPERVISORS else None
        on_duty = ctx.officer_id in await call(roster.officers_on_duty, None, None, self.c.engine)
        return self.render(request, "queue.html", me=ctx.session, unassigned=unassigned, mine=mine,
                           everything=everything, on_duty=on_duty)

    async def conversation(self, request: Request, ctx: Ctx) -> Response:
        try:
            hid = int(request.path_params["hid"])
        except ValueError:
            return self.render(request, "error.html", status=404, me=ctx.session, message="Not available.")
        try:
            detail = await asyncio.to_thread(
                queue.claimant_view, hid, ctx.officer_id, ip=ctx.ip, key=self.c.pseudonym_key, engine=self.c.engine
            )
        except queue.AccessDenied:
            return self.render(request, "error.html", status=404, me=ctx.session,
                               message="This conversation is not available to you.")
        from bot.console.messaging import window_open

        found = await asyncio.to_thread(conversation_of, self.c.engine, hid)
        window = await window_open(self.c.outbound, found[0], found[1]) if found else False
        officers = [o for o in await asyncio.to_thread(self.api._officers, False) if o["id"] != ctx.officer_id]
        teams = [t for t in await call(roster.list_teams, self.c.engine) if t[2]]
        return self.render(
            request, "conversation.html", me=ctx.session, d=detail, window_open=window,
            canned=canned_replies(detail.item.language), outcomes=[(o, OUTCOME_LABELS[o]) for o in OUTCOMES],
            officers=officers, teams=teams,
            last_seq=max([m.seq for m in detail.messages] + [0]),
        )

    async def dashboard(self, request: Request, ctx: Ctx) -> Response:
        data = await call(queue.dashboard, self.c.engine)
        everything = await asyncio.to_thread(self.api._queue, "all", ctx.officer_id) if ctx.role in SUPERVISORS else None
        officers = await asyncio.to_thread(self.api._officers, False)
        return self.render(request, "dashboard.html", me=ctx.session, data=data, bars=chart_bars(data["wait_chart_24h"]),
                           everything=everything, officers=officers, outcome_labels=OUTCOME_LABELS)

    async def admin(self, request: Request, ctx: Ctx) -> Response:
        officers = await asyncio.to_thread(self.api._officers, True)
        teams = await call(roster.list_teams, self.c.engine)
        shifts = await call(roster.list_shifts, utcnow(), None, self.c.engine)
        return self.render(request, "admin.html", me=ctx.session, officers=officers, teams=teams, shifts=shifts)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})


def routes(console: "Console") -> list[Route]:
    pages, e = Pages(console), console.engine
    return [
        Route("/login", public(pages.login), methods=["GET", "POST"]),
        Route("/health", public(pages.health), methods=["GET"]),
        Route("/healthz", public(pages.health), methods=["GET"]),
        Route("/logout", guarded(pages.logout, ANY_ROLE, e), methods=["POST"]),
        Route("/", guarded(pages.home, ANY_ROLE, e), methods=["GET"]),
        Route("/handoffs/{hid}", guarded(pages.conversation, WORKERS, e), methods=["GET"]),
        Route("/dashboard", guarded(pages.dashboard, OVERSIGHT, e), methods=["GET"]),
        Route("/admin", guarded(pages.admin, ADMINS, e), methods=["GET"]),
    ]
