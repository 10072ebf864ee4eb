"""Redaction: Rasa/Sanic records at DEBUG, structlog JSON and exceptions never carry content."""

from __future__ import annotations

import io
import json
import logging
import secrets

import pytest

from bot.logging_setup import install_redaction, scrub


@pytest.fixture
def captured() -> io.StringIO:
    install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old)


def test_third_party_debug_lines_lose_quoted_text_and_payloads(captured: io.StringIO) -> None:
    marker = secrets.token_hex(16)
    logging.getLogger("rasa.core.processor").debug("Received user message '%s' with intent '%s'", marker, "greet")
    body = json.dumps({"tracker": {"latest_message": {"text": marker}}})
    logging.getLogger("rasa.core.nlg.callback").debug("The request body is %s.", body)
    logging.getLogger("sanic.root").info("chat %s from +15550100001", "123456789")
    out = captured.getvalue()
    assert marker not in out
    assert "15550100001" not in out and "123456789" not in out
    assert "Received user message" in out  # the fact stays


def test_structlog_json_keeps_event_only(captured: io.StringIO) -> None:
    marker = secrets.token_hex(16)
    line = json.dumps({"event": "processor.message.parse", "parse_data_text": marker, "level": "debug"})
    logging.getLogger("rasa.core.processor").debug(line)
    assert marker not in captured.getvalue()
    assert "processor.message.parse" in captured.getvalue()


def test_exception_messages_are_redacted(captured: io.StringIO) -> None:
    marker = secrets.token_hex(16)
    try:
        raise ValueError(f"could not parse {marker}")
    except ValueError:
        logging.getLogger("rasa.core.channels").exception("failed")
    out = captured.getvalue()
    assert marker not in out and "ValueError" in out


def test_scrub_is_not_a_no_op() -> None:
    assert "secret" not in scrub("text 'secret' here")


def test_code_identifiers_stay_readable_but_words_do_not() -> None:
    out = scrub("Predicted 'utter_main_menu' via 'CountVectorsFeaturizer' for 'help me please' and 'hola'")
    assert "utter_main_menu" in out and "CountVectorsFeaturizer" in out
    assert "help me please" not in out and "hola" not in out


def test_harmless_start_up_lines_stay_readable(captured: io.StringIO) -> None:
    """Loopback addresses, ports and Rasa component names pass (issue 9: over-redaction)."""
    logging.getLogger("rasa.core.run").info("Starting Rasa server on %s://%s:%s", "http", "127.0.0.1", 5005)
    logging.getLogger("sanic.root").info("Goin' Fast @ http://0.0.0.0:5055")
    logging.getLogger("rasa.engine.training.hooks").info("Starting to train component '%s'.", "DIETClassifier")
    logging.getLogger("rasa.engine.training.hooks").info("Finished training component '%s'.", "WhitespaceTokenizer")
    out = captured.getvalue()
    assert "Starting Rasa server on http://127.0.0.1:5005" in out
    assert "http://0.0.0.0:5055" in out
    assert "Starting to train component 'DIETClassifier'." in out
    assert "Finished training component 'WhitespaceTokenizer'." in out


def test_markers_never_pass_the_new_exceptions(captured: io.StringIO) -> None:
    """What the loopback and component-name rules let through can never carry her words or number."""
    marker = secrets.token_hex(16)
    for name in ("rasa.engine.training.hooks", "rasa.core.run", "uvicorn.error"):
        logging.getLogger(name).info("component '%s' for '%s'", marker, f"my words {marker}")
        logging.getLogger(name).info("from http://10.20.30.40:5005 and +15550100001 at 127.0.0.1:5005")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/x?q={marker}", "1.1", 200)
    out = captured.getvalue()
    assert marker not in out
    assert "10.20.30.40" not in out and "15550100001" not in out
    assert "127.0.0.1:5005" in out  # the loopback part of the same line stays
