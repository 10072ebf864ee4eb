"""Logging with redaction from day one: no survivor text, phone number or chat id in any log line.

Redaction happens when a log record is *created* (a LogRecord factory), so it covers every
handler that Rasa, Sanic or uvicorn install later, at every level including DEBUG:
- third-party records (rasa, sanic, rasa_sdk, telegram, httpx, ...): quoted strings, JSON values,
  brace/bracket payloads, phone numbers and long digit runs are replaced; exception text too;
- Haven's own records (haven.*): phone numbers and long digit runs (we never log text).
Rasa's structlog output is forced to JSON (FORCE_JSON_LOGGING, set before Rasa is imported), which
the scrubber reduces to the event name. (Rasa's `get_anonymization_pipeline` hook is deliberately
not used: registering it makes every turn re-read and diff the whole tracker.)
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from typing import Any, Optional

REDACTED = "[redacted]"
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.S)
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_DIGITS = re.compile(r"\b\d{6,}\b")
_PAYLOAD = re.compile(r"[\[{].*[\]}]", re.S)
_KEEP_JSON_KEYS = {"event", "level", "logger", "event_key", "timestamp", "log_level"}
_OWN_PREFIXES = ("haven", "bot.", "channels", "actions")
# Quoted code identifiers stay readable (action/intent/component names): snake_case or dotted
# names, and CamelCase words with at least two capitals. Free text never matches these.
_IDENTIFIER = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+|(?:[A-Z][a-z0-9]+){2,}[A-Za-z0-9]*)$")


def _quoted(match: "re.Match[str]") -> str:
    inner = match.group(0)[1:-1]
    return match.group(0) if _IDENTIFIER.match(inner) else f"'{REDACTED}'"

def _quoted_identifier(match: "re.Match[str]") -> str:
    return match.group(0) if _PY_IDENTIFIER.match(match.group(0)[1:-1]) else _quoted(match)


# Loggers whose formatter needs the arguments as given (uvicorn's AccessFormatter unpacks 5).
_ARGS_LOGGERS = frozenset({"uvicorn.access"})
_installed = False
QUIET_LOGGERS = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "telegram": logging.INFO,
                 "hpack": logging.WARNING}


# Loopback / any-interface addresses with an optional port ("http://127.0.0.1:5005") say nothing
# about anyone: kept, so start-up lines stay readable. Any other address is still redacted.
_LOOPBACK = re.compile(r"(?<![\d.])(?:127(?:\.\d{1,3}){3}|0\.0\.0\.0)(?::\d{1,5})?(?![\d.])")
# Loggers whose quoted values are class names (Rasa's training hooks: "Starting to train component
# 'DIETClassifier'"): a quoted class name (a capital, then letters, digits, underscores, with at
# least one lower-case letter) passes there; nothing a user typed is logged by them.
_IDENTIFIER_LOGGERS = ("rasa.engine",)
_PY_IDENTIFIER = re.compile(r"^(?=.*[a-z])[A-Z][A-Za-z0-9_]*$")


def scrub_numbers(text: str) -> str:
    kept: list[str] = []

    def hold(match: "re.Match[str]") -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _DIGITS.sub("[number]", _PHONE.sub("[number]", _LOOPBACK.sub(hold, text)))
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)


def scrub(text: str, identifiers: bool = False) -> str:
    """Redact anything that could carry a survivor's words or address from a log message.

    `identifiers`: quoted class names pass (loggers in _IDENTIFIER_LOGGERS only)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict):
            safe = {k: (v if k in _KEEP_JSON_KEYS else REDACTED) for k, v in data.items()}
            return json.dumps(safe)
    text = _QUOTED.sub(_quoted_identifier if identifiers else _quoted, text)
    text = _PAYLOAD.sub(REDACTED, text)
    return scrub_numbers(text)


def _is_own(name: str) -> bool:
    return name.startswith(_OWN_PREFIXES)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite a record in place so that formatting it can never reveal content."""
    if record.name in _ARGS_LOGGERS and isinstance(record.args, tuple):
        # Their formatters read record.args (uvicorn's access line): scrub each argument instead.
        record.args = tuple(_scrub_arg(a) for a in record.args)
        return _redact_exception(record)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string must not break logging
        message = str(record.msg)
    if _is_own(record.name):
        record.msg = scrub_numbers(message)
    else:
        record.msg = scrub(message, identifiers=record.name.startswith(_IDENTIFIER_LOGGERS))
    record.args = ()
    return _redact_exception(record)


def _scrub_arg(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    path, query, _ = value.partition("?")  # a query string may carry anything
    return scrub(path) + (f"?{REDACTED}" if query or _ else "")


def _redact_exception(record: logging.LogRecord) -> logging.LogRecord:
    if record.exc_info and record.exc_info[0] is not None:
        etype, value, tb = record.exc_info
        frames = "".join(traceback.format_tb(tb)) if tb else ""
        # Keep where it failed and the exception type; the exception message may hold content.
        record.exc_text = f"{frames}{etype.__name__}: {REDACTED}"
        record.exc_info = None
    return record


def install_redaction() -> None:
    """Install the redacting LogRecord factory (idempotent); force Rasa's structlog to JSON."""
    global _installed
    os.environ.setdefault("FORCE_JSON_LOGGING", "1")
    if not _installed:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        # A failing handler must not print the exception being handled (its message may hold
        # SQL parameters or her words) to stderr: logging's own error report is switched off.
        logging.raiseExceptions = False
        _installed = True
    # At DEBUG these log request URLs (the Telegram bot token is in the path) and bodies.
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)


def configure_logging(level: Optional[str] = None) -> None:
    """Console logging at HAVEN_LOG_LEVEL with redaction installed first."""
    install_redaction()
    if level is None:
        from bot.settings import get_settings

        try:
            level = get_settings().log_level
        except Exception:  # noqa: BLE001 - settings errors are reported by the caller
            level = "INFO"
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
