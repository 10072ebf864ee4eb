"""`haven officer ...`, `haven roster ...` and `haven audit verify` (operator commands).

    haven officer add USERNAME [--name N] [--role officer|supervisor|admin] [--languages en,sw]
                               [--team TEAM] [--password-stdin]   (shows the TOTP QR code)
    haven officer disable USERNAME | reset-2fa USERNAME | set-password USERNAME | list
    haven roster team-add NAME | teams
    haven roster add --officer U --languages en,sw --start ISO --end ISO [--team T] [--repeat-days N]
    haven roster list [--days 7] | remove SHIFT_ID
    haven audit verify
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timedelta
from typing import Any, Optional, TextIO

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _fail(message: str) -> int:
    print(f"haven: {message}", file=sys.stderr)
    return EXIT_FAIL


def _guard(handler: Any) -> Any:
    """Turn known operator errors into one clear line and an exit code."""

    def run(args: argparse.Namespace) -> int:
        from bot.staff.credentials import CredentialError
        from bot.staff.roster import RosterError

        try:
            return int(handler(args) or 0)
        except (CredentialError, RosterError) as exc:
            return _fail(str(exc))
        except (OperationalError, ProgrammingError):
            return _fail("the database is not ready (run `haven migrate` first)")

    return run


def _read_password(args: argparse.Namespace) -> Optional[str]:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (12+ characters): ")
    if first != getpass.getpass("Repeat password: "):
        print("haven: the passwords do not match", file=sys.stderr)
        return None
    return first


def show_totp(username: str, uri: str, secret: str, out: Optional[TextIO] = None) -> None:
    """The provisioning QR code in the terminal, and the key for manual entry."""
    import qrcode

    out = out or sys.stdout
    qr = qrcode.QRCode(border=2)
    qr.add_data(uri)
    qr.make(fit=True)
    print(f"Scan this QR code with the authenticator app of {username} (shown once):", file=out)
    qr.print_ascii(out=out, invert=True)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    print(f"Or enter this key by hand: {grouped}", file=out)


def _languages(value: str) -> list[str]:
    from bot.settings import SUPPORTED_LANGUAGES

    codes = [code.strip().lower() for code in value.split(",") if code.strip()]
    unknown = [code for code in codes if code not in SUPPORTED_LANGUAGES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unsupported language(s): {', '.join(unknown)}")
    return codes


def _when(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("use ISO 8601, e.g. 2030-01-31T08:00+03:00") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a timezone offset, e.g. 2030-01-31T08:00+03:00")
    return moment


def _team_id(name: Optional[str]) -> Optional[int]:
    if not name:
        return None
    from bot.staff.roster import team_id_by_name
    from bot.store.db import session_scope

    with session_scope() as session:
        return team_id_by_name(session, name)


# ------------------------------------------------------------------ officer


def _officer_add(args: argparse.Namespace) -> int:
    from bot.staff.credentials import create_officer

    password = _read_password(args)
    if password is None:
        return EXIT_FAIL
    created = create_officer(
        args.username, password, display_name=args.name, role=args.role, languages=args.languages,
        team_id=_team_id(args.team),
    )
    print(f"officer {created.username!r} added (id {created.officer_id}, role {args.role})")
    show_totp(created.username, created.provisioning_uri, created.totp_secret)
    return EXIT_OK


def _officer_disable(args: argparse.Namespace) -> int:
    from bot.staff.credentials import disable_officer

    if not disable_officer(args.username):
        return _fail(f"no officer named {args.username!r}")
    print(f"officer {args.username!r} disabled; their sessions ended and their claims return to the queue")
    return EXIT_OK


def _officer_reset(args: argparse.Namespace) -> int:
    from bot.staff.credentials import reset_totp

    reset = reset_totp(args.username)
    if reset is None:
        return _fail(f"no officer named {args.username!r}")
    print(f"new authenticator key for {reset.username!r}; old codes no longer work and their sessions ended")
    show_totp(reset.username, reset.provisioning_uri, reset.totp_secret)
    return EXIT_OK


def _officer_password(args: argparse.Namespace) -> int:
    from bot.staff.credentials import set_password

    password = _read_password(args)
    if password is None:
        return EXIT_FAIL
    if not set_password(args.username, password):
        return _fail(f"no officer named {args.username!r}")
    print(f"password changed for {args.username!r}")
    return EXIT_OK


def _officer_list(args: argparse.Namespace) -> int:
    from bot.staff.models import Officer
    from bot.staff.roster import on_duty_ids
    from bot.store.db import session_scope
    from bot.store.models import utcnow

    with session_scope() as session:
        duty = on_duty_ids(session, utcnow())
        rows = session.execute(select(Officer).order_by(Officer.username)).scalars().all()
        print(f"{'id':>4}  {'username':<20} {'role':<10} {'team':>4}  {'languages':<14} status")
        for o in rows:
            status = ("on duty" if o.id in duty else "active") if o.active else "disabled"
            print(f"{o.id:>4}  {o.username:<20} {o.role:<10} {o.team_id or '':>4}  {o.languages or '-':<14} {status}")
    return EXIT_OK


# ------------------------------------------------------------------ roster


def _roster_team_add(args: argparse.Namespace) -> int:
    from bot.staff.roster import add_team

    print(f"team {args.name!r} added (id {add_team(args.name)})")
    return EXIT_OK


def _roster_teams(args: argparse.Namespace) -> int:
    from bot.staff.roster import list_teams

    for team_id, name, active in list_teams():
        print(f"{team_id:>4}  {name}{'' if active else ' (inactive)'}")
    return EXIT_OK


def _roster_add(args: argparse.Namespace) -> int:
    from bot.staff.credentials import find_officer
    from bot.staff.roster import add_shifts
    from bot.store.db import session_scope

    with session_scope() as session:
        officer = find_officer(session, args.officer)
        officer_id = officer.id if officer else None
    if officer_id is None:
        return _fail(f"no officer named {args.officer!r}")
    ids = add_shifts(officer_id, args.languages, args.start, args.end, team_id=_team_id(args.team), repeat_days=args.repeat_days)
    print(f"added {len(ids)} shift(s) for {args.officer!r}")
    return EXIT_OK


def _roster_list(args: argparse.Namespace) -> int:
    from bot.staff.roster import list_shifts
    from bot.store.models import utcnow

    now = utcnow()
    shifts = list_shifts(now, now + timedelta(days=args.days))
    if not shifts:
        print("no shifts in that period")
    for s in shifts:
        print(f"{s.id:>5}  {s.starts_at:%Y-%m-%d %H:%M} -> {s.ends_at:%Y-%m-%d %H:%M} UTC  {s.language}  "
              f"{s.username}{f'  team {s.team_id}' if s.team_id else ''}")
    return EXIT_OK


def _roster_remove(args: argparse.Namespace) -> int:
    from bot.staff.roster import remove_shift

    if not remove_shift(args.shift_id):
        return _fail(f"no shift with id {args.shift_id}")
    print(f"shift {args.shift_id} removed")
    return EXIT_OK


# ------------------------------------------------------------------ audit


def _audit_verify(args: argparse.Namespace) -> int:
    from bot.audit import verify

    result = verify()
    if result.ok:
        print(f"audit log intact: {result.count} row(s) in {len(result.heads)} chain(s)")
        for chain, (seq, digest) in sorted(result.heads.items()):
            print(f"  chain {chain}: head seq {seq} hash {digest}")
        print("keep these heads somewhere else: a later verify must show them (or longer chains) to rule out truncation")
        return EXIT_OK
    print(f"audit log BROKEN in chain {result.bad_chain} at seq {result.bad_seq}: {result.reason} "
          f"({result.count} row(s) verified before it)", file=sys.stderr)
    return EXIT_FAIL


def register(subparsers: Any) -> None:
    """Add `officer`, `roster` and `audit` to the `haven` command."""
    officer = subparsers.add_parser("officer", help="console accounts (officers, supervisors, admins)")
    osub = officer.add_subparsers(dest="officer_command", metavar="ACTION")
    p = osub.add_parser("add", help="create an account and show its authenticator QR code")
    p.add_argument("username")
    p.add_argument("--name", help="display name (default: the username)")
    p.add_argument("--role", choices=("officer", "supervisor", "admin"), default="officer")
    p.add_argument("--languages", type=_languages, default=["en"], help="comma-separated, e.g. en,sw")
    p.add_argument("--team", help="team name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=_guard(_officer_add))
    p = osub.add_parser("disable", help="disable an account and end its sessions")
    p.add_argument("username")
    p.set_defaults(func=_guard(_officer_disable))
    p = osub.add_parser("reset-2fa", help="issue a new authenticator key (shows a QR code)")
    p.add_argument("username")
    p.set_defaults(func=_guard(_officer_reset))
    p = osub.add_parser("set-password", help="set a new password")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=_guard(_officer_password))
    p = osub.add_parser("list", help="list accounts and who is on duty")
    p.set_defaults(func=_guard(_officer_list))

    roster = subparsers.add_parser("roster", help="teams and duty shifts")
    rsub = roster.add_subparsers(dest="roster_command", metavar="ACTION")
    p = rsub.add_parser("team-add", help="create a team")
    p.add_argument("name")
    p.set_defaults(func=_guard(_roster_team_add))
    p = rsub.add_parser("teams", help="list teams")
    p.set_defaults(func=_guard(_roster_teams))
    p = rsub.add_parser("add", help="put an officer on duty")
    p.add_argument("--officer", required=True, help="username")
    p.add_argument("--languages", type=_languages, required=True, help="comma-separated, e.g. en,sw")
    p.add_argument("--start", type=_when, required=True, help="ISO 8601 with offset, e.g. 2030-01-31T08:00+03:00")
    p.add_argument("--end", type=_when, required=True)
    p.add_argument("--team", help="team name")
    p.add_argument("--repeat-days", type=int, default=1, help="repeat on this many consecutive days")
    p.set_defaults(func=_guard(_roster_add))
    p = rsub.add_parser("list", help="shifts from now")
    p.add_argument("--days", type=int, default=7)
    p.set_defaults(func=_guard(_roster_list))
    p = rsub.add_parser("remove", help="remove a shift")
    p.add_argument("shift_id", type=int)
    p.set_defaults(func=_guard(_roster_remove))

    audit = subparsers.add_parser("audit", help="the hash-chained audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    p = asub.add_parser("verify", help="check every row of the chain; exit 1 if anything was changed")
    p.set_defaults(func=_guard(_audit_verify))
