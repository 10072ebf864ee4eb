"""`haven stats export` and `haven case ...` (operator commands; no case content is printed).

    haven stats export --format csv [--rows DIM [--cols DIM]] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [-o FILE]
    haven case list [--team TEAM] [--status S] [--all]     reference, status, team, age (content-free)
    haven case show REFERENCE                               status, team, timestamps
    haven case desks                                        directory services flagged `desk`, their teams
    haven case desk-team SERVICE TEAM                       a team works a desk's cases (service id or external id)
    haven case route REFERENCE TEAM                         give a case (e.g. unrouted) to a team
    haven case expire [--days N]                            retention: shred cases older than N days
    haven case rotate-keys                                  re-wrap case keys under the current master key
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from sqlalchemy.exc import OperationalError, ProgrammingError


def _fail(message: str) -> int:
    print(f"haven: {message}", file=sys.stderr)
    return 1


def _guard(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from bot.reporting.errors import ReportingError

        try:
            return int(handler(args) or 0)
        except (ReportingError, ValueError) as exc:
            return _fail(str(exc))
        except (OperationalError, ProgrammingError):
            return _fail("the database is not ready (run `haven migrate` first)")

    return run


def _date(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _team(value: str) -> int:
    from bot.staff.roster import team_id_by_name
    from bot.store.db import session_scope

    if value.isdigit():
        return int(value)
    with session_scope() as session:
        return team_id_by_name(session, value)


def _stats_export(args: argparse.Namespace) -> int:
    from bot.reporting import stats
    from bot.reporting.common import record, write

    if args.cols and not args.rows:
        return _fail("--cols needs --rows")
    tables = [(args.rows, args.cols)] if args.rows else list(stats.DEFAULT_TABLES)
    for rows, cols in tables:
        if rows not in stats.DIMENSIONS or (cols is not None and (cols not in stats.DIMENSIONS or cols == rows)):
            return _fail(f"dimensions are {', '.join(stats.DIMENSIONS)}")
    text = stats.export_csv(tables, since=_date(args.since), until=_date(args.until))
    with write(None) as session:
        record(session, "stats_export", actor_type="cli", outcome="csv")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(text.splitlines()) - 1} row(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _case_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.reporting import views
    from bot.reporting.models import STATUSES, ReportCase
    from bot.store.db import session_scope
    from bot.store.models import utcnow

    if args.status and args.status not in STATUSES:
        return _fail(f"status is one of {', '.join(STATUSES)}")
    stmt = select(ReportCase)
    if args.team:
        stmt = stmt.where(ReportCase.team_id == _team(args.team))
    if args.unrouted:
        stmt = stmt.where(ReportCase.team_id.is_(None))
    if args.status:
        stmt = stmt.where(ReportCase.status == args.status)
    elif not args.all:
        stmt = stmt.where(ReportCase.status != "closed")
    now = utcnow()
    with session_scope() as session:
        items = [views.item(c, now) for c in session.execute(stmt.order_by(ReportCase.submitted_at).limit(args.limit)).scalars()]
    print(f"{'reference':<10} {'status':<13} {'team':>5} {'channel':<9} {'age':>8}")
    for i in items:
        print(f"{i.reference:<10} {i.status:<13} {str(i.team_id or '-'):>5} {i.channel:<9} {i.waiting_seconds // 3600:>6} h")
    print(f"{len(items)} case(s)", file=sys.stderr)
    return 0


def _case_show(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.reporting.models import ReportCase
    from bot.reporting.reference import normalise
    from bot.store.db import session_scope

    ref = normalise(args.reference)
    with session_scope() as session:
        case = session.execute(select(ReportCase).where(ReportCase.reference == ref)).scalar_one_or_none() if ref else None
        if case is None:
            return _fail("no such case")
        for name in ("reference", "status", "outcome", "team_id", "channel", "language", "country", "region",
                     "submitted_at", "acknowledged_at", "first_contact_at", "referred_at", "closed_at"):
            print(f"{name:<17} {getattr(case, name) if getattr(case, name) is not None else '-'}")
    return 0


def _case_desks(args: argparse.Namespace) -> int:
    from bot.reporting.desks import list_desks

    desks = list_desks()
    for d in desks:
        print(f"{d.service_id:>5} {d.external_id:<30} {d.service_type:<16} {d.country or '-':<3} team={d.team_id or '-'}  {d.name}")
    if not desks:
        print("no directory service is flagged `desk` (set desk: yes in the directory file)", file=sys.stderr)
    return 0


def _case_desk_team(args: argparse.Namespace) -> int:
    from bot.reporting.desks import set_desk_team

    service_id = set_desk_team(args.service, _team(args.team))
    print(f"cases routed to desk service {service_id} now go to team {args.team}")
    return 0


def _case_route(args: argparse.Namespace) -> int:
    from bot.reporting.desks import route_case

    route_case(args.reference, _team(args.team))
    print(f"case {args.reference.upper()} given to team {args.team}")
    return 0


def _case_expire(args: argparse.Namespace) -> int:
    from bot.reporting.desks import expire_cases

    print(f"shredded {expire_cases(args.days)} case(s) past retention")
    return 0


def _case_rotate(args: argparse.Namespace) -> int:
    from bot.crypto import KeyRing
    from bot.reporting import keys
    from bot.reporting.common import write

    ring = KeyRing.from_settings()
    with write(None) as session:
        changed = keys.rotate(session, ring)
    print(f"re-wrapped {changed} case key(s) under master key id {ring.current_id!r}")
    return 0


def register(subparsers: Any) -> None:
    stats_p = subparsers.add_parser("stats", help="statistics on reports (counts only, small cells suppressed)")
    stats_sub = stats_p.add_subparsers(dest="stats_command")
    p = stats_sub.add_parser("export", help="export suppressed tables")
    p.add_argument("--format", choices=["csv"], default="csv")
    p.add_argument("--rows", help="one dimension (default: every standard table)")
    p.add_argument("--cols", help="a second dimension for a cross-table")
    p.add_argument("--since", help="cases submitted on or after YYYY-MM-DD")
    p.add_argument("--until", help="cases submitted before YYYY-MM-DD")
    p.add_argument("-o", "--output", help="write to a file instead of standard output")
    p.set_defaults(func=_guard(_stats_export))

    case_p = subparsers.add_parser("case", help="reports (cases): list, desks, routing, retention")
    case_sub = case_p.add_subparsers(dest="case_command")
    p = case_sub.add_parser("list", help="cases (content-free)")
    p.add_argument("--team")
    p.add_argument("--status")
    p.add_argument("--unrouted", action="store_true", help="only cases with no team")
    p.add_argument("--all", action="store_true", help="include closed cases")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(func=_guard(_case_list))
    p = case_sub.add_parser("show", help="one case's status and timestamps")
    p.add_argument("reference")
    p.set_defaults(func=_guard(_case_show))
    p = case_sub.add_parser("desks", help="directory services flagged `desk` and their teams")
    p.set_defaults(func=_guard(_case_desks))
    p = case_sub.add_parser("desk-team", help="a team works a desk's cases")
    p.add_argument("service", help="directory service id or external id")
    p.add_argument("team", help="team name or id")
    p.set_defaults(func=_guard(_case_desk_team))
    p = case_sub.add_parser("route", help="give a case to a team")
    p.add_argument("reference")
    p.add_argument("team", help="team name or id")
    p.set_defaults(func=_guard(_case_route))
    p = case_sub.add_parser("expire", help="retention: shred and delete cases older than N days")
    p.add_argument("--days", type=int, default=None)
    p.set_defaults(func=_guard(_case_expire))
    p = case_sub.add_parser("rotate-keys", help="re-wrap every case key under the current HAVEN_MASTER_KEY")
    p.set_defaults(func=_guard(_case_rotate))
