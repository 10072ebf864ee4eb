"""`haven directory import|export|validate|stale|load-demo`: the operators' directory commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

FORMATS = ("template", "hsds", "json")
MAX_LISTED = 200


def _print_problems(problems: list[Any], stream: Any = None) -> None:
    stream = stream or sys.stderr
    for problem in problems[:MAX_LISTED]:
        print(f"  {problem}", file=stream)
    if len(problems) > MAX_LISTED:
        print(f"  ... and {len(problems) - MAX_LISTED} more", file=stream)


def _cmd_import(args: argparse.Namespace) -> int:
    from bot.directory.importer import import_file

    result = import_file(Path(args.file), fmt=args.format, skip_invalid=args.skip_invalid, demo=args.demo)
    if result.problems:
        bad_rows = len({p.ref for p in result.problems})
        verb = "skipped" if args.skip_invalid else "found"
        print(f"{verb} {bad_rows} bad row(s) in {args.file}:", file=sys.stderr)
        _print_problems(result.problems)
        if not args.skip_invalid:
            print("nothing was imported (fix the rows above, or use --skip-invalid to import the rest)", file=sys.stderr)
            return 1
    print(
        f"imported {args.file}: {result.created} new, {result.updated} updated, {result.unchanged} unchanged"
        + (f", {len({p.ref for p in result.problems})} row(s) skipped" if result.problems else "")
    )
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from bot.directory.importer import validate_file

    records, problems = validate_file(Path(args.file), fmt=args.format, demo=args.demo)
    if problems:
        print(f"{len({p.ref for p in problems})} bad row(s) in {args.file}:", file=sys.stderr)
        _print_problems(problems)
        return 1
    print(f"{args.file}: {len(records)} service(s), all valid")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from bot.directory.export import export

    count = export(Path(args.file), fmt=args.format, include_demo=args.include_demo)
    print(f"exported {count} service(s) to {args.file}")
    print("note: the file includes confidential addresses; keep it as safe as the database", file=sys.stderr)
    return 0


def _cmd_stale(args: argparse.Namespace) -> int:
    from bot.directory.export import stale_services

    rows = stale_services(months=args.months)
    if not rows:
        print(f"every service was verified in the last {args.months} months")
        return 0
    print(f"{len(rows)} service(s) not verified in the last {args.months} months:")
    for row in rows:
        print(f"  {row['last_verified'] or 'never':<10}  {row['id']}  {row['name']} ({row['country']})")
    return 0


def _cmd_load_demo(args: argparse.Namespace) -> int:
    from bot.directory.demo import directory_is_empty, load_demo

    if not args.force and not directory_is_empty():
        print("the directory is not empty; use --force to add or refresh the demo listings anyway", file=sys.stderr)
        return 1
    result = load_demo()
    print(f"demo directory: {result.created} new, {result.updated} updated, {result.unchanged} unchanged (all fictional, marked DEMO)")
    return 0


def register(subparsers: Any) -> None:
    """Add `haven directory ...` to the haven command."""
    directory = subparsers.add_parser("directory", help="the service directory: import, export, validate, stale, load-demo")
    sub = directory.add_subparsers(dest="directory_command", metavar="ACTION")

    p = sub.add_parser("import", help="validate a file, then import all of it (or nothing)")
    p.add_argument("file", help="a one-sheet CSV (template), an HSDS datapackage folder/.zip, or a JSON export")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: from the file name")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid rows and list the skipped ones")
    p.add_argument("--demo", action="store_true", help="mark the listings as demo (allows fictional numbers)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("validate", help="check a file without importing it")
    p.add_argument("file")
    p.add_argument("--format", choices=FORMATS, default=None)
    p.add_argument("--demo", action="store_true")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("export", help="write the directory to a file (.json, .csv template, or an HSDS folder/.zip)")
    p.add_argument("file")
    p.add_argument("--format", choices=FORMATS, default=None)
    p.add_argument("--include-demo", action="store_true", help="include the demo listings")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("stale", help="list services not verified for over 12 months")
    p.add_argument("--months", type=int, default=12)
    p.set_defaults(func=_cmd_stale)

    p = sub.add_parser("load-demo", help="load the synthetic demo directory (fictional services)")
    p.add_argument("--force", action="store_true", help="even if the directory already has services")
    p.set_defaults(func=_cmd_load_demo)

    directory.set_defaults(func=lambda args: (directory.print_help(), 2)[1])
