"""The desk side of reports in the console: case queue, case view, actions, referrals, statistics.

JSON API under /api/cases (documented in README.md) and server-rendered pages under /cases with
plain HTML form posts (CSRF field); `static/cases.js` keeps the queue live. Every rule lives in
the core service (bot.reporting.desk): this module parses input, calls it in a thread, and maps
its typed errors to 400/404/409. Routes are guarded for every role on purpose: the core refuses
(404) and audits an admin, a supervisor asking for content, or another team's officer.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Optional, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.console.web import ANY_ROLE, ApiError, Ctx, form_fields, guarded, json_body
from bot.reporting import desk, errors, stats
from bot.reporting.views import REFERRAL_TYPES, referral_services
from bot.reporting.feed import CaseFeed
from bot.reporting.models import CASE_OUTCOMES, CONSENT_HOW, REFERRAL_NEXT, SHARE_FIELDS

if TYPE_CHECKING:  # pragma: no cover
    from bot.console.context import Console

ERRORS: dict[type[Exception], tuple[int, str]] = {
    errors.NotFound: (404, "not_found"),
    errors.StaleCase: (409, "stale_case"),
    errors.InvalidTransition: (409, "invalid_transition"),
    errors.ContactNotAllowed: (409, "contact_not_allowed"),
    errors.ConsentRequired: (400, "consent_required"),
    errors.InvalidRequest: (400, "invalid"),
    ValueError: (400, "invalid"),
}


_T = TypeVar("_T")


async def call(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except tuple(ERRORS) as exc:
        status, code = next(v for k, v in ERRORS.items() if isinstance(exc, k))
        raise ApiError(status, code, str(exc)) from exc


def _int(value: Any, name: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "invalid", f"{name} must be an integer") from exc
    if not 0 <= number < 2**31:
        raise ApiError(400, "invalid", f"{name} is out of range")
    return number


class Cases:
    """Handlers bound to one console."""

    def __init__(self, console: "Console") -> None:
        self.c = console
        self.feed = CaseFeed(console.engine, console.config.poll_interval)

    # ---------------------------------------------------------------- shared
    async def items(self, ctx: Ctx, view: str) -> list[Any]:
        if view == "team":
            return await call(desk.team_queue, ctx.officer_id, engine=self.c.engine)
        if view == "all":
            if ctx.role != "supervisor":
                raise ApiError(403, "forbidden", "the all-cases view is for supervisors")
            return await call(desk.all_cases, ctx.officer_id, engine=self.c.engine)
        raise ApiError(400, "invalid", "view is team or all")

    async def detail_or_status(self, cid: int, ctx: Ctx) -> tuple[Optional[Any], Any]:
        """(detail, item) for a team officer; (None, item) for a supervisor; 404 otherwise."""
        if ctx.role == "supervisor":
            return None, await call(desk.case_status_view, cid, ctx.officer_id, ip=ctx.ip, engine=self.c.engine)
        detail = await call(desk.case_detail, cid, ctx.officer_id, ip=ctx.ip, engine=self.c.engine)
        return detail, detail.item

    async def transition(self, cid: int, ctx: Ctx, fields: dict[str, Any]) -> int:
        status, outcome = fields.get("status"), fields.get("outcome") or None
        if not isinstance(status, str) or (outcome is not None and not isinstance(outcome, str)):
            raise ApiError(400, "invalid", "status (and outcome when closing) are words")
        return int(await call(desk.transition, cid, ctx.officer_id, status, version=_int(fields.get("version"), "version"),
                              outcome=outcome, ip=ctx.ip, engine=self.c.engine))

    async def note(self, cid: int, ctx: Ctx, fields: dict[str, Any]) -> int:
        return int(await call(desk.add_note, cid, ctx.officer_id, fields.get("text"), ip=ctx.ip, engine=self.c.engine))

    async def contact(self, cid: int, ctx: Ctx, fields: dict[str, Any]) -> str:
        """Log the message, send it through her channel (outbound: opt-out, 24 h rule), record delivery."""
        text = fields.get("text")
        confirm = fields.get("confirm_safe_time") in (True, "on", "yes", "1", "true")
        target = await call(desk.begin_contact, cid, ctx.officer_id, text, version=_int(fields.get("version"), "version"),
                            confirm_safe_time=confirm, ip=ctx.ip, engine=self.c.engine)
        state, error = await self._deliver(target, str(text).strip())
        await call(desk.finish_contact, cid, target.seq, state, error, engine=self.c.engine)
        return state

    async def _deliver(self, target: desk.ContactTarget, text: str) -> tuple[str, Optional[str]]:
        from bot.console.messaging import window_open

        outbound = self.c.outbound
        if outbound is None:
            return "failed", "outbound_unavailable"
        try:
            if not await window_open(outbound, target.conversation_id, target.channel):
                # WhatsApp after 24 h: outbound sends only its neutral template prompt.
                await outbound.send_to_conversation(target.conversation_id, [{"text": text}])
                return "held", None
            result = await outbound.send_to_conversation(target.conversation_id, [{"text": text}])
            return ("held" if getattr(result, "via_template", False) else "sent"), None
        except Exception as exc:  # noqa: BLE001 - typed channel errors; keep only the type name
            return "failed", type(exc).__name__

    async def refer(self, cid: int, ctx: Ctx, service_id: Any, shared: Any, given: Any, how: Any) -> int:
        consent = desk.ReferralConsent(given is True or given in ("on", "yes", "true", "1"), str(how or ""))
        if not isinstance(shared, list) or not all(isinstance(s, str) for s in shared):
            raise ApiError(400, "invalid", "shared is a list of field names")
        return int(await call(desk.refer, cid, ctx.officer_id, _int(service_id, "service_id"), shared, consent,
                              ip=ctx.ip, engine=self.c.engine))

    async def referral_status(self, cid: int, rid: int, ctx: Ctx, status: Any) -> None:
        if not isinstance(status, str):
            raise ApiError(400, "invalid", "status is a word")
        await call(desk.set_referral_status, cid, rid, ctx.officer_id, status, ip=ctx.ip, engine=self.c.engine)

    async def table(self, request: Request) -> stats.Table:
        rows = request.query_params.get("rows", "incident_type")
        cols = request.query_params.get("cols") or None
        return await call(stats.crosstab, rows, cols, engine=self.c.engine)

    # ---------------------------------------------------------------- JSON API
    async def api_list(self, request: Request, ctx: Ctx) -> Response:
        view = request.query_params.get("view", "all" if ctx.role == "supervisor" else "team")
        if ctx.role == "admin":
            raise ApiError(403, "forbidden")
        return JSONResponse({"view": view, "items": [i.as_dict() for i in await self.items(ctx, view)]})

    async def api_detail(self, request: Request, ctx: Ctx) -> Response:
        detail, item = await self.detail_or_status(_int(request.path_params["cid"], "id"), ctx)
        return JSONResponse(detail.as_dict() if detail is not None else {"case": item.as_dict()})

    async def api_transition(self, request: Request, ctx: Ctx) -> Response:
        version = await self.transition(_int(request.path_params["cid"], "id"), ctx, await json_body(request))
        return JSONResponse({"version": version})

    async def api_note(self, request: Request, ctx: Ctx) -> Response:
        return JSONResponse({"seq": await self.note(_int(request.path_params["cid"], "id"), ctx, await json_body(request))})

    async def api_contact(self, request: Request, ctx: Ctx) -> Response:
        return JSONResponse({"delivery": await self.contact(_int(request.path_params["cid"], "id"), ctx, await json_body(request))})

    async def api_refer(self, request: Request, ctx: Ctx) -> Response:
        body = await json_body(request)
        consent = body.get("consent")
        if not isinstance(consent, dict):
            raise ApiError(400, "consent_required", "consent: {given: true, how: chat|in_person|phone}")
        rid = await self.refer(_int(request.path_params["cid"], "id"), ctx, body.get("service_id"), body.get("shared"),
                               consent.get("given"), consent.get("how"))
        return JSONResponse({"id": rid})

    async def api_referral(self, request: Request, ctx: Ctx) -> Response:
        body = await json_body(request)
        await self.referral_status(_int(request.path_params["cid"], "id"), _int(request.path_params["rid"], "id"), ctx,
                                   body.get("status"))
        return JSONResponse({"ok": True})

    async def api_services(self, request: Request, ctx: Ctx) -> Response:
        kind = request.query_params.get("type") or None
        if kind is not None and kind not in REFERRAL_TYPES:
            raise ApiError(400, "invalid", "unknown service type")
        return JSONResponse({"items": await asyncio.to_thread(referral_services, self.c.engine, kind)})

    async def api_stats(self, request: Request, ctx: Ctx) -> Response:
        t = await self.table(request)
        return JSONResponse({"rows_dim": t.rows_dim, "cols_dim": t.cols_dim, "rows": stats.table_rows(t)})

    async def api_events(self, request: Request, ctx: Ctx) -> Response:
        """Server-sent events `cases` with the ids of changed cases the caller may list."""
        if ctx.role == "admin":
            raise ApiError(403, "forbidden")
        team, everything = ctx.session.team_id, ctx.role == "supervisor"
        loop, cfg = asyncio.get_running_loop(), self.c.config
        subscription = await self.feed.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n: connected\n\n"
                deadline = loop.time() + cfg.sse_max_seconds
                while loop.time() < deadline:
                    try:
                        changes = await asyncio.wait_for(subscription.get(), timeout=min(15.0, deadline - loop.time()))
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    ids = sorted({c.id for c in changes if everything or (team is not None and c.team_id == team)})
                    if ids:
                        yield f"event: cases\ndata: {json.dumps({'ids': ids})}\n\n"
            finally:
                await self.feed.unsubscribe(subscription)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


__all__ = ["Cases", "CASE_OUTCOMES", "CONSENT_HOW", "REFERRAL_NEXT", "SHARE_FIELDS"]
