"""The console's JSON API under /api/ (the pages use it; scripts can too, after logging in).

Authentication: the session cookie set by POST /login. Every state-changing request sends the
session's CSRF token in `X-CSRF-Token` (GET /api/me returns it) and a JSON body. Errors are
`{"error": code, "message": text}` with 400 invalid, 401 login_required, 403 forbidden/csrf,
404 not_found (also for records the caller may not see), 409 stale_claim/not_claimable.
Every handoff write carries `version`, the fencing token returned by claim.
Endpoint list with one line each: GET /api/ (see API_INDEX below).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Optional

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.console import messaging
from bot.staff import sessions
from bot.console.canned import canned_replies
from bot.console.web import ADMINS, ANY_ROLE, OVERSIGHT, SUPERVISORS, WORKERS, ApiError, Ctx, guarded, json_body
from bot.handoff import queue, service, takeover
from bot.handoff.takeover import TAKEOVER_REASONS
from bot.handoff.queue import conversation_of
from bot.staff import credentials as auth
from bot.staff import officers, roster, throttle
from bot.store.models import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from bot.console.context import Console

API_INDEX = [
    ("GET", "/api/", "this list"),
    ("GET", "/api/me", "the logged-in officer, role, languages, on-duty flag and CSRF token"),
    ("GET", "/api/queue?view=unassigned|mine|all", "inbox view, most urgent first (all: supervisors)"),
    ("POST", "/api/handoffs/claim-next", "claim the most urgent handoff you can take -> {handoff_id, version}"),
    ("POST", "/api/handoffs/{id}/claim", "claim this handoff -> {handoff_id, version, lease_expires_at}"),
    ("GET", "/api/handoffs/{id}?after=SEQ", "summary and transcript (claimant only; audited)"),
    ("POST", "/api/handoffs/{id}/renew", "{version} extend the lease while you are active"),
    ("POST", "/api/handoffs/{id}/reply", "{version, text} send a reply to her channel -> delivery state"),
    ("POST", "/api/handoffs/{id}/notes", "{version, text} private note (never sent)"),
    ("POST", "/api/handoffs/{id}/release", "{version} give it back to the queue"),
    ("POST", "/api/handoffs/{id}/transfer", "{version, officer_id | team_id, reassign?, reason?} hand over (taking over another officer's live conversation: reason required)"),
    ("POST", "/api/handoffs/{id}/close", "{version, outcome} referred|information_given|report_taken|no_response|left"),
    ("GET", "/api/canned?language=xx", "canned replies for a language"),
    ("GET", "/api/officers", "officers (transfer targets; admins see accounts)"),
    ("GET", "/api/teams", "teams"),
    ("GET", "/api/dashboard", "aggregate counts and wait chart (supervisor, admin)"),
    ("GET", "/api/roster?days=7", "shifts from now (supervisor, admin)"),
    ("POST", "/api/roster", "{officer_id, languages[], starts_at, ends_at, team_id?, repeat_days?} (admin)"),
    ("POST", "/api/roster/{id}/delete", "remove a shift (admin)"),
    ("POST", "/api/teams", "{name} create a team (admin)"),
    ("POST", "/api/officers/{id}/disable", "disable an account, end its sessions (admin)"),
    ("POST", "/api/me/password", "{current_password, new_password} change your password; your other sessions end"),
    ("GET", "/api/events", "server-sent events: `queue` (ids changed), `handoff` (your conversation changed), `takeover` (a supervisor took yours)"),
]

SERVICE_ERRORS: dict[type[Exception], tuple[int, str]] = {
    service.NotFound: (404, "not_found"),
    queue.AccessDenied: (404, "not_found"),
    service.NotClaimable: (409, "not_claimable"),
    service.StaleClaim: (409, "stale_claim"),
    service.InvalidRequest: (400, "invalid"),
    roster.RosterError: (400, "invalid"),
    auth.CredentialError: (400, "invalid"),
}


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking service code in a thread; map its typed errors to API errors."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except tuple(SERVICE_ERRORS) as exc:
        status, code = next(v for k, v in SERVICE_ERRORS.items() if isinstance(exc, k))
        raise ApiError(status, code, str(exc)) from exc


def _int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: 1e400 is parsed as inf
        raise ApiError(400, "invalid", f"{name} must be an integer") from exc
    if number < 0 or number > 2**31:
        raise ApiError(400, "invalid", f"{name} is out of range")
    return number


def _when(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value else None


def claim_json(claim: service.Claim) -> dict[str, Any]:
    return {
        "handoff_id": claim.handoff_id, "officer_id": claim.officer_id, "version": claim.version,
        "lease_expires_at": _when(claim.lease_expires_at),
    }


class Api:
    """Handlers bound to one console (engine, watcher, outbound)."""

    def __init__(self, console: "Console") -> None:
        self.c = console

    # ---------------------------------------------------------------- who am I
    async def index(self, request: Request, ctx: Ctx) -> Response:
        return JSONResponse({"endpoints": [{"method": m, "path": p, "doc": d} for m, p, d in API_INDEX]})

    async def me(self, request: Request, ctx: Ctx) -> Response:
        s = ctx.session
        on_duty = ctx.officer_id in await call(roster.officers_on_duty, None, None, self.c.engine)
        return JSONResponse({
            "id": s.officer_id, "username": s.username, "display_name": s.display_name, "role": s.role,
            "team_id": s.team_id, "languages": list(s.languages), "on_duty": on_duty, "csrf_token": s.csrf_token,
        })

    # ---------------------------------------------------------------- queue
    def _queue(self, view: str, officer_id: int) -> list[dict[str, Any]]:
        return [item.as_dict() for item in queue.inbox(view, officer_id, self.c.pseudonym_key, self.c.engine)]

    async def queue_view(self, request: Request, ctx: Ctx) -> Response:
        view = request.query_params.get("view", "unassigned")
        if view not in queue.VIEWS:
            raise ApiError(400, "invalid", "view is unassigned, mine or all")
        if view == "all" and ctx.role not in SUPERVISORS:
            raise ApiError(403, "forbidden")
        if view != "all" and ctx.role not in WORKERS:
            raise ApiError(403, "forbidden")
        return JSONResponse({"view": view, "items": await asyncio.to_thread(self._queue, view, ctx.officer_id)})

    # ---------------------------------------------------------------- claims
    def _connected(self, handoff_id: int) -> BackgroundTask:
        async def send() -> None:
            found = await asyncio.to_thread(conversation_of, self.c.engine, handoff_id)
            if found:
                await messaging.send_line(self.c.outbound, *found, "utter_handoff_connected")

        return BackgroundTask(send)

    async def claim_next(self, request: Request, ctx: Ctx) -> Response:
        claim = await call(
            service.claim_next, ctx.officer_id, ip=ctx.ip, lease_seconds=self.c.config.lease_seconds, engine=self.c.engine
        )
        if claim is None:
            return JSONResponse({"handoff_id": None})
        return JSONResponse(claim_json(claim), background=self._connected(claim.handoff_id))

    async def claim(self, request: Request, ctx: Ctx) -> Response:
        hid = _int(request.path_params["hid"], "id")
        claim = await call(service.claim, hid, ctx.officer_id, ip=ctx.ip, lease_seconds=self.c.config.lease_seconds, engine=self.c.engine)
        return JSONResponse(claim_json(claim), background=self._connected(hid))

    async def detail(self, request: Request, ctx: Ctx) -> Response:
        hid = _int(request.path_params["hid"], "id")
        after = _int(request.query_params.get("after", "0"), "after")
        d = await call(queue.claimant_view, hid, ctx.officer_id, after_seq=after, ip=ctx.ip, key=self.c.pseudonym_key, engine=self.c.engine)
        found = await asyncio.to_thread(conversation_of, self.c.engine, hid)
        window = await messaging.window_open(self.c.outbound, found[0], found[1]) if found else False
        return JSONResponse({
            "handoff": d.item.as_dict(), "summary": d.summary, "country": d.country,
            "lease_expires_at": _when(d.lease_expires_at), "window_open": window,
            "messages": [m.as_dict() for m in d.messages],
        })

    async def renew(self, request: Request, ctx: Ctx) -> Response:
        hid, body = _int(request.path_params["hid"], "id"), await json_body(request)
        claim = await call(
            service.renew, hid, ctx.officer_id, _int(body.get("version"), "version"),
            lease_seconds=self.c.config.lease_seconds, engine=self.c.engine,
        )
        return JSONResponse(claim_json(claim))

    async def release(self, request: Request, ctx: Ctx) -> Response:
        hid, body = _int(request.path_params["hid"], "id"), await json_body(request)
        await call(service.release, hid, ctx.officer_id, _int(body.get("version"), "version"), ip=ctx.ip, engine=self.c.engine)
        return JSONResponse({"ok": True})

    async def transfer(self, request: Request, ctx: Ctx) -> Response:
        hid, body = _int(request.path_params["hid"], "id"), await json_body(request)
        reassign = bool(body.get("reassign"))
        if reassign and ctx.role not in SUPERVISORS:
            raise ApiError(403, "forbidden")
        if not reassign and ctx.role not in WORKERS:
            raise ApiError(403, "forbidden")
        to_officer = _int(body["officer_id"], "officer_id") if body.get("officer_id") is not None else None
        to_team = _int(body["team_id"], "team_id") if body.get("team_id") is not None else None
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ApiError(400, "invalid", "reason is one of " + ", ".join(TAKEOVER_REASONS))
        claim = await call(
            service.transfer, hid, ctx.officer_id, _int(body.get("version"), "version"), to_officer_id=to_officer,
            to_team_id=to_team, as_supervisor=reassign, reason=reason, ip=ctx.ip,
            lease_seconds=self.c.config.lease_seconds, engine=self.c.engine,
        )
        return JSONResponse({"ok": True, "claim": claim_json(claim) if claim else None})

    async def reply(self, request: Request, ctx: Ctx) -> Response:
        hid, body = _int(request.path_params["hid"], "id"), await json_body(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "invalid", "text is required")
        delivery = await call(
            service.reply, hid, ctx.officer_id, _int(body.get("version"), "version"), text, ip=ctx.ip,
            lease_seconds=self.c.config.lease_seconds, engine=self.c.engine,
        )
        state = await messaging.deliver_reply(self.c.outbound, delivery, text.strip(), delivery.held_pending)
        return JSONResponse({"seq": delivery.seq, "delivery": state})

    async def note(self, request: Request, ctx: Ctx) -> Response:
        hid, body = _int(request.path_params["hid"], "id"), await json_body(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "invalid", "text is required")
        seq = await call(service.add_note, hid, ctx.officer_id, _int(body.get("version"), "version"), text, ip=ctx.ip, engine=self.c.engine)
        return JSONResponse({"seq": seq})

    async def close(self, request: Request, ctx: Ctx) -> Response:
        hid, body = _int(request.path_params["hid"], "id"), await json_body(request)
        outcome = body.get("outcome")
        if not isinstance(outcome, str):
            raise ApiError(400, "invalid", "outcome is required")
        done = await call(service.close, hid, ctx.officer_id, _int(body.get("version"), "version"), outcome, ip=ctx.ip, engine=self.c.engine)
        background = None
        if outcome != "left":
            background = BackgroundTask(
                messaging.send_line, self.c.outbound, done.conversation_id, done.channel, done.language, done.country,
                "utter_handoff_closed",
            )
        return JSONResponse({"ok": True}, background=background)

    async def canned(self, request: Request, ctx: Ctx) -> Response:
        return JSONResponse({"items": canned_replies(request.query_params.get("language", "en"))})

    # ---------------------------------------------------------------- people, teams, roster
    def _officers(self, full: bool) -> list[dict[str, Any]]:
        return officers.directory(full, self.c.engine)

    async def officers(self, request: Request, ctx: Ctx) -> Response:
        return JSONResponse({"items": await asyncio.to_thread(self._officers, ctx.role == "admin")})

    async def teams(self, request: Request, ctx: Ctx) -> Response:
        rows = await call(roster.list_teams, self.c.engine)
        return JSONResponse({"items": [{"id": i, "name": n, "active": a} for i, n, a in rows]})

    async def add_team(self, request: Request, ctx: Ctx) -> Response:
        body = await json_body(request)
        team_id = await call(roster.add_team, str(body.get("name") or ""), self.c.engine, ctx.officer_id)
        return JSONResponse({"id": team_id})

    async def dashboard(self, request: Request, ctx: Ctx) -> Response:
        return JSONResponse(await call(queue.dashboard, self.c.engine))

    async def roster_list(self, request: Request, ctx: Ctx) -> Response:
        days = min(31, _int(request.query_params.get("days", "7"), "days"))
        now = utcnow()
        shifts = await call(roster.list_shifts, now, now + timedelta(days=days), self.c.engine)
        names = {o["id"]: o["display_name"] for o in await asyncio.to_thread(self._officers, True)}
        items = []
        for s in shifts:
            item = {"id": s.id, "officer_id": s.officer_id, "display_name": names.get(s.officer_id, ""),
                    "team_id": s.team_id, "language": s.language, "starts_at": _when(s.starts_at), "ends_at": _when(s.ends_at)}
            if ctx.role == "admin":  # usernames are for account management only
                item["username"] = s.username
            items.append(item)
        return JSONResponse({"items": items})

    async def roster_add(self, request: Request, ctx: Ctx) -> Response:
        body = await json_body(request)
        try:
            starts = datetime.fromisoformat(str(body.get("starts_at")))
            ends = datetime.fromisoformat(str(body.get("ends_at")))
        except ValueError as exc:
            raise ApiError(400, "invalid", "starts_at and ends_at are ISO 8601 with a timezone") from exc
        languages = body.get("languages")
        if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
            raise ApiError(400, "invalid", "languages is a list of codes")
        team = _int(body["team_id"], "team_id") if body.get("team_id") is not None else None
        ids = await call(
            roster.add_shifts, _int(body.get("officer_id"), "officer_id"), languages, starts, ends, team_id=team,
            repeat_days=_int(body.get("repeat_days", 1), "repeat_days"), actor_id=ctx.officer_id, engine=self.c.engine,
        )
        return JSONResponse({"ids": ids})

    async def roster_delete(self, request: Request, ctx: Ctx) -> Response:
        ok = await call(roster.remove_shift, _int(request.path_params["sid"], "id"), ctx.officer_id, self.c.engine)
        if not ok:
            raise ApiError(404, "not_found")
        return JSONResponse({"ok": True})

    async def disable_officer(self, request: Request, ctx: Ctx) -> Response:
        oid = _int(request.path_params["oid"], "id")
        if oid == ctx.officer_id:
            raise ApiError(400, "invalid", "you cannot disable your own account")

        name = await call(officers.username_of, oid, self.c.engine)
        if name is None:
            raise ApiError(404, "not_found")
        await call(auth.disable_officer, name, ctx.officer_id, self.c.engine)
        return JSONResponse({"ok": True})

    async def change_password(self, request: Request, ctx: Ctx) -> Response:
        body = await json_body(request)
        current, new = body.get("current_password"), body.get("new_password")
        if not isinstance(current, str) or not isinstance(new, str):
            raise ApiError(400, "invalid", "current_password and new_password are required")
        outcome = await call(auth.change_own_password, ctx.session.username, current, new, ctx.session.session_id,
                             ctx.ip, self.c.engine, request.cookies.get(throttle.DEVICE_COOKIE))
        if outcome == "throttled":
            raise ApiError(429, "throttled", "too many attempts; wait and try again")
        if outcome != "ok":
            raise ApiError(403, "forbidden", "your current password did not match")
        return JSONResponse({"ok": True})

    # ---------------------------------------------------------------- live events
    async def events(self, request: Request, ctx: Ctx) -> Response:
        watcher = self.c.watcher
        if watcher is None:
            raise ApiError(503, "unavailable", "live updates are not running")
        subscription = watcher.subscribe()
        loop = asyncio.get_running_loop()
        cfg = self.c.config
        sid, me = ctx.session.session_id, ctx.officer_id
        engine = self.c.engine
        opened = utcnow()

        def still_valid() -> bool:
            return sessions.still_live(sid, engine)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n: connected\n\n"
                deadline = loop.time() + cfg.sse_max_seconds
                next_check = loop.time() + cfg.sse_session_check
                while True:
                    now = loop.time()
                    if now >= deadline:
                        break
                    if now >= next_check:
                        if not await asyncio.to_thread(still_valid):
                            yield "event: logout\ndata: {}\n\n"
                            break
                        next_check = now + cfg.sse_session_check
                    try:
                        changes = await asyncio.wait_for(subscription.get(), timeout=min(deadline, next_check) - now)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    ids = sorted({c.id for c in changes})
                    yield f"event: queue\ndata: {json.dumps({'ids': ids})}\n\n"
                    for change in changes:
                        if change.officer_id == me:
                            yield f"event: handoff\ndata: {json.dumps({'id': change.id, 'seq': change.message_seq, 'status': change.status})}\n\n"
                    moved = [c.id for c in changes if c.officer_id != me]
                    for hid, reason in await asyncio.to_thread(takeover.taken_from, me, moved, opened, engine):
                        yield f"event: takeover\ndata: {json.dumps({'id': hid, 'reason': reason})}\n\n"
            finally:
                watcher.unsubscribe(subscription)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )


def routes(console: "Console") -> list[Route]:
    api, e = Api(console), console.engine
    return [
        Route("/api", guarded(api.index, ANY_ROLE, e), methods=["GET"]),
        Route("/api/", guarded(api.index, ANY_ROLE, e), methods=["GET"]),
        Route("/api/me", guarded(api.me, ANY_ROLE, e), methods=["GET"]),
        Route("/api/me/password", guarded(api.change_password, ANY_ROLE, e), methods=["POST"]),
        Route("/api/queue", guarded(api.queue_view, WORKERS, e), methods=["GET"]),
        Route("/api/handoffs/claim-next", guarded(api.claim_next, WORKERS, e), methods=["POST"]),
        Route("/api/handoffs/{hid}/claim", guarded(api.claim, WORKERS, e), methods=["POST"]),
        Route("/api/handoffs/{hid}", guarded(api.detail, WORKERS, e), methods=["GET"]),
        Route("/api/handoffs/{hid}/renew", guarded(api.renew, WORKERS, e), methods=["POST"]),
        Route("/api/handoffs/{hid}/release", guarded(api.release, WORKERS, e), methods=["POST"]),
        Route("/api/handoffs/{hid}/transfer", guarded(api.transfer, WORKERS, e), methods=["POST"]),
        Route("/api/handoffs/{hid}/reply", guarded(api.reply, WORKERS, e), methods=["POST"]),
        Route("/api/handoffs/{hid}/notes", guarded(api.note, WORKERS, e), methods=["POST"]),
        Route("/api/handoffs/{hid}/close", guarded(api.close, WORKERS, e), methods=["POST"]),
        Route("/api/canned", guarded(api.canned, WORKERS, e), methods=["GET"]),
        Route("/api/officers", guarded(api.officers, ANY_ROLE, e), methods=["GET"]),
        Route("/api/officers/{oid}/disable", guarded(api.disable_officer, ADMINS, e), methods=["POST"]),
        Route("/api/teams", guarded(api.teams, ANY_ROLE, e), methods=["GET"]),
        Route("/api/teams", guarded(api.add_team, ADMINS, e), methods=["POST"]),
        Route("/api/dashboard", guarded(api.dashboard, OVERSIGHT, e), methods=["GET"]),
        Route("/api/roster", guarded(api.roster_list, OVERSIGHT, e), methods=["GET"]),
        Route("/api/roster", guarded(api.roster_add, ADMINS, e), methods=["POST"]),
        Route("/api/roster/{sid}/delete", guarded(api.roster_delete, ADMINS, e), methods=["POST"]),
        Route("/api/events", guarded(api.events, ANY_ROLE, e), methods=["GET"]),
    ]
