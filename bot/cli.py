"""The `haven` command: run, chat, train, eval, migrate, keys, and feature subcommands.

Feature packages add their own subcommands with a `register(subparsers)` function in
`<package>/cli.py` (listed in FEATURE_CLIS); each registered parser sets `func`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Optional, Sequence

FEATURE_CLIS = (
    "bot.directory.cli",
    "bot.handoff.cli",
    "bot.console.cli",
    "bot.reporting.cli",
    "channels.cli",
    "bot.cluster",
)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from bot.settings import get_settings
    from bot.store.migrate import current_revision, upgrade

    upgrade()
    print(f"database at revision {current_revision()} ({_describe_db(get_settings().database_url)})")
    return 0


def _describe_db(url: str) -> str:
    """The database URL without credentials (for messages)."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    from bot.crypto import KeyRing, rotate_master_key
    from bot.store.db import session_scope

    ring = KeyRing.from_settings()
    with session_scope() as session:
        changed = rotate_master_key(session, ring)
    print(f"re-wrapped {changed} data key(s) under master key id {ring.current_id!r}")
    try:
        from bot.staff.credentials import reseal_totp_secrets
    except ModuleNotFoundError:
        return 0
    resealed = reseal_totp_secrets()
    print(f"re-sealed {resealed} officer 2FA secret(s); keep old keys in HAVEN_OLD_MASTER_KEYS while "
          "audit rows signed under them still need verifying")
    return 0


def _cmd_keys_new(args: argparse.Namespace) -> int:
    from bot.settings import new_key_b64

    print(new_key_b64())
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.runner import run_all

    return run_all(no_train=args.no_train)


def _cmd_chat(args: argparse.Namespace) -> int:
    from bot.chat import chat

    return chat(url=args.url, sender=args.sender, metadata_language=args.language)


def _cmd_train(args: argparse.Namespace) -> int:
    from bot.model import train_if_needed

    path = train_if_needed(force=args.force)
    print(f"model: {path}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluate import main as eval_main

    return eval_main(report=args.report, model=args.model)


def _cmd_retention(args: argparse.Namespace) -> int:
    import bot.handoff  # noqa: F401 - subscribes the handoff erase listener
    from bot.safety.erase import erase_idle_conversations

    count = erase_idle_conversations()
    print(f"erased {count} idle conversation(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="haven", description="Haven help line: operator commands")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="start the Rasa server, action/NLG server and console")
    p.add_argument("--no-train", action="store_true", help="do not train even if the model is stale")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("chat", help="talk to the running bot (REST channel)")
    p.add_argument("--url", default=None, help="Rasa server URL (default: HAVEN_RASA_URL)")
    p.add_argument("--sender", default=None, help="conversation id (default: a random one)")
    p.add_argument("--language", default=None, help="language hint sent as channel metadata")
    p.set_defaults(func=_cmd_chat)

    p = sub.add_parser("train", help="train the Rasa model if missing or stale")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate NLU on the held-out split, per language")
    p.add_argument("--report", default="results/nlu-eval.json")
    p.add_argument("--model", default=None)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=_cmd_migrate)

    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", metavar="ACTION")
    p = keys.add_parser("rotate", help="re-wrap every data key under the current HAVEN_MASTER_KEY")
    p.set_defaults(func=_cmd_keys_rotate)
    p = keys.add_parser("new", help="print a fresh random key for HAVEN_MASTER_KEY / HAVEN_PSEUDONYM_KEY")
    p.set_defaults(func=_cmd_keys_new)

    p = sub.add_parser("retention", help="erase conversations idle longer than HAVEN_RETENTION_DAYS")
    p.set_defaults(func=_cmd_retention)

    for module_name in FEATURE_CLIS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        register: Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None] = getattr(module, "register")
        register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from bot.logging_setup import configure_logging
    from bot.settings import SettingsError

    try:
        configure_logging()
        return int(func(args) or 0)
    except SettingsError as exc:
        print(f"haven: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
