"""Her code word for a report asked about from another conversation, checked at the channel edge.

The report action asked for it (bot.safety.code_word.expect_report_word); the gate hands her next
message here, and Rasa receives only the verdict as a payload (`/report_word_result{...}`): a
status word, "withdrawn", or "denied". The word never reaches the NLU, the tracker or the logs.
"""

from __future__ import annotations

import json

from bot.reporting.errors import NotFound
from bot.reporting.intake import status, withdraw

RESULT_INTENT = "/report_word_result"


def answer(conversation_id: str, purpose: str, code: str, word: str) -> str:
    """The payload for Rasa after checking her word against the report `code` (no dash)."""
    reference = f"{code[:2]}-{code[2:]}"
    try:
        if purpose == "withdraw":
            withdraw(reference, conversation_id, code_word=word)
            body = {"report_result": "withdrawn", "report_ref": reference}
        else:
            found = status(reference, conversation_id, code_word=word)
            body = {"report_result": found.status, "report_ref": reference, "count": str(found.referrals)}
    except NotFound:
        body = {"report_result": "denied"}
    return RESULT_INTENT + json.dumps(body)
