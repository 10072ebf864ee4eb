"""Server-rendered case pages: the team's case queue, a case, its forms, and the statistics page."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.cases import Cases
from bot.reporting.views import conversation_of_case as _conversation_of, referral_services
from bot.console.web import ANY_ROLE, ApiError, Ctx, form_fields, guarded
from bot.reporting import stats
from bot.reporting.models import CASE_OUTCOMES, CONSENT_HOW, REFERRAL_NEXT, SHARE_FIELDS, TRANSITIONS

if TYPE_CHECKING:  # pragma: no cover
    from bot.console.context import Console

STATUS_LABELS = {"new": "New", "acknowledged": "Acknowledged", "contacted": "Contacted", "referred": "Referred",
                 "closed": "Closed"}
ACTIONS = ("transition", "note", "contact", "refer", "referral")


class CasePages:
    def __init__(self, console: "Console", cases: "Cases") -> None:
        self.c, self.h = console, cases

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return self.c.templates.TemplateResponse(request, name, context, status_code=status)

    def not_available(self, request: Request, ctx: Ctx) -> Response:
        return self.render(request, "error.html", status=404, me=ctx.session, message="This case is not available to you.")

    async def queue(self, request: Request, ctx: Ctx) -> Response:
        if ctx.role == "admin":
            return self.render(request, "error.html", status=403, me=ctx.session, message="Cases are for desk officers.")
        view = "all" if ctx.role == "supervisor" else "team"
        items = await self.h.items(ctx, view)
        return self.render(request, "cases.html", me=ctx.session, items=items, view=view, labels=STATUS_LABELS)

    async def case(self, request: Request, ctx: Ctx) -> Response:
        try:
            cid = int(request.path_params["cid"])
            detail, item = await self.h.detail_or_status(cid, ctx)
        except (ValueError, ApiError):
            return self.not_available(request, ctx)
        services = await asyncio.to_thread(referral_services, self.c.engine) if detail is not None else []
        window = True
        if detail is not None and item.channel == "whatsapp":
            from bot.console.messaging import window_open

            with_target = await asyncio.to_thread(_conversation_of, self.c.engine, cid)
            window = await window_open(self.c.outbound, with_target, "whatsapp") if with_target else False
        return self.render(
            request, "case.html", me=ctx.session, d=detail, item=item, labels=STATUS_LABELS,
            next_statuses=[s for s in TRANSITIONS.get(item.status, ()) if s != "closed"],
            can_close="closed" in TRANSITIONS.get(item.status, ()), outcomes=CASE_OUTCOMES, share_fields=SHARE_FIELDS,
            consent_how=CONSENT_HOW, services=services, referral_next=REFERRAL_NEXT, window_open=window,
            error=request.query_params.get("error", "")[:80],
        )

    async def act(self, request: Request, ctx: Ctx) -> Response:
        action = request.path_params["action"]
        if action not in ACTIONS:
            raise ApiError(404, "not_found")
        cid = int(_digits(request.path_params["cid"]))
        fields = await form_fields(request)
        if action == "transition":
            await self.h.transition(cid, ctx, fields)
        elif action == "note":
            await self.h.note(cid, ctx, fields)
        elif action == "contact":
            await self.h.contact(cid, ctx, fields)
        elif action == "refer":
            shared = [name for name in SHARE_FIELDS if fields.get(f"share_{name}") == "on"]
            await self.h.refer(cid, ctx, fields.get("service_id"), shared, fields.get("consent_given"), fields.get("consent_how"))
        else:
            await self.h.referral_status(cid, int(_digits(fields.get("referral_id", ""))), ctx, fields.get("status"))
        return RedirectResponse(f"/cases/{cid}", status_code=303)

    async def stats(self, request: Request, ctx: Ctx) -> Response:
        table = await self.h.table(request)
        bars = stats.chart(table) if table.cols_dim is None else []
        return self.render(request, "cases_stats.html", me=ctx.session, t=table, bars=bars, dims=stats.DIMENSIONS,
                           total=stats.TOTAL)


def _digits(value: Any) -> str:
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 9:
        raise ApiError(400, "invalid", "an id is a number")
    return text


def routes(console: "Console") -> list[Route]:
    h = Cases(console)
    p = CasePages(console, h)
    e = console.engine

    def g(fn: Any) -> Any:
        return guarded(fn, ANY_ROLE, e)

    return [
        Route("/api/cases", g(h.api_list), methods=["GET"]),
        Route("/api/cases/services", g(h.api_services), methods=["GET"]),
        Route("/api/cases/stats", g(h.api_stats), methods=["GET"]),
        Route("/api/cases/events", g(h.api_events), methods=["GET"]),
        Route("/api/cases/{cid}", g(h.api_detail), methods=["GET"]),
        Route("/api/cases/{cid}/transition", g(h.api_transition), methods=["POST"]),
        Route("/api/cases/{cid}/notes", g(h.api_note), methods=["POST"]),
        Route("/api/cases/{cid}/contact", g(h.api_contact), methods=["POST"]),
        Route("/api/cases/{cid}/referrals", g(h.api_refer), methods=["POST"]),
        Route("/api/cases/{cid}/referrals/{rid}", g(h.api_referral), methods=["POST"]),
        Route("/cases", g(p.queue), methods=["GET"]),
        Route("/cases/stats", g(p.stats), methods=["GET"]),
        Route("/cases/{cid}", g(p.case), methods=["GET"]),
        Route("/cases/{cid}/{action}", g(p.act), methods=["POST"]),
    ]
