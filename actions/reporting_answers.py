"""Reading her answers to the report form: button choices, numbered replies, skips, places.

Pure functions (no Rasa, no database) so the form's rules are testable on their own. A skipped
question is stored as SKIP in its slot (the form needs a value to move on) and becomes None in
the Draft (bot.reporting.draft: every field optional).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

from bot.text import normalise

SKIP = "skip"
DONE = "done"
CHOICE_ENTITY = "report_choice"

# Button values per question, in the order shown (a typed "2" means the second one).
# Online abuse counts as psychological abuse and FGM/C as physical assault (GBVIMS classification).
TYPE_OPTIONS = ("rape", "sexual_assault", "physical_assault", "forced_marriage", "denial_of_resources",
                "psychological_abuse", "online", "fgm")
TYPE_MAP = {"online": "psychological_abuse", "fgm": "physical_assault"}
WHEN_OPTIONS = ("today", "this_week", "this_month", "longer_ago")
YES_NO = ("yes", "no")
RELATIONSHIP_OPTIONS = ("partner", "former_partner", "family", "acquaintance", "stranger", "other")
CONTACT_OPTIONS = ("chat", "safe_time", "other_number", "other_number_call", "none")
SEXUAL = frozenset({"rape", "sexual_assault"})
RECENT = frozenset({"today", "this_week"})  # the 72-hour window may still be open

SKIP_WORDS = frozenset(normalise(w) for w in (
    "skip", "pass", "next", "skip it", "skip this", "no answer", "rather not say", "prefer not to say",
    "passer", "je passe", "suivant", "sauter", "je prefere ne pas dire",
    "saltar", "omitir", "paso", "siguiente", "prefiero no decir",
    "pular", "passo", "proxima", "prefiro nao dizer",
    "ruka", "ruka swali", "endelea", "sitaki kusema", "pita",
))
YES_WORDS = frozenset(normalise(w) for w in (
    "yes", "y", "yeah", "yep", "ok", "oui", "ouais", "si", "sí", "claro", "sim", "ndio", "ndiyo", "sawa",
))
NO_WORDS = frozenset(normalise(w) for w in ("no", "n", "nope", "non", "nao", "não", "hapana", "la"))
STOP_WORDS = frozenset(normalise(w) for w in (
    "stop the report", "forget the report", "leave the report", "i dont want to continue",
    "arreter le rapport", "laisse tomber", "ya no quiero seguir", "dejalo", "nao quero continuar",
    "deixa", "sitaki kuendelea", "acha ripoti",
))
NUMBER_RE = re.compile(r"\+?[\d\s().\-]{6,40}")


def button_choice(message: Mapping[str, Any]) -> Optional[str]:
    """The value of a report button she pressed (entity report_choice), if any."""
    for entity in message.get("entities") or []:
        if entity.get("entity") == CHOICE_ENTITY and entity.get("value") is not None:
            return str(entity["value"])
    return None


def intent_of(message: Mapping[str, Any]) -> str:
    return str((message.get("intent") or {}).get("name") or "")


def is_skip(message: Mapping[str, Any]) -> bool:
    """She skipped: the Skip button, or a skip word on its own."""
    if intent_of(message) == "report_skip" or button_choice(message) == SKIP:
        return True
    return normalise(str(message.get("text") or "")) in SKIP_WORDS


def is_stop(message: Mapping[str, Any]) -> bool:
    if intent_of(message) == "stop_report":
        return True
    return normalise(str(message.get("text") or "")) in STOP_WORDS


def numbers_in(text: str, limit: int) -> list[int]:
    """Option numbers in a reply like "1 3", "2,5" or "1 and 4" (1-based, each at most `limit`)."""
    words = re.sub(r"\b(and|y|et|e|na)\b", " ", str(text or "").lower())
    if not re.search(r"\d", words) or not re.fullmatch(r"[\d\s,;&+/.\-]+", words):
        return []
    found = [int(n) for n in re.findall(r"\d+", words)]
    return [n for n in dict.fromkeys(found) if 1 <= n <= limit]


def choose_one(message: Mapping[str, Any], options: Sequence[str]) -> Optional[str]:
    """One option from a button, a typed number, or yes/no words for a yes/no question."""
    choice = button_choice(message)
    if choice in options:
        return choice
    text = str(message.get("text") or "")
    nums = numbers_in(text, len(options))
    if len(nums) == 1:
        return options[nums[0] - 1]
    if tuple(options) == YES_NO:
        intent = intent_of(message)
        word = normalise(text)
        if intent == "affirm" or word in YES_WORDS:
            return "yes"
        if intent == "deny" or word in NO_WORDS:
            return "no"
    return None


def choose_types(message: Mapping[str, Any]) -> tuple[list[str], bool]:
    """(types picked in this message, whether she is done). "1 3" picks two and finishes."""
    choice = button_choice(message)
    if choice == DONE:
        return [], True
    if choice in TYPE_OPTIONS:
        return [choice], False
    nums = numbers_in(str(message.get("text") or ""), len(TYPE_OPTIONS) + 1)
    if nums:
        picked = [TYPE_OPTIONS[n - 1] for n in nums if n <= len(TYPE_OPTIONS)]
        return picked, len(picked) > 1 or len(TYPE_OPTIONS) + 1 in nums
    return [], False


def incident_types(picked: Sequence[str]) -> list[str]:
    """GBVIMS types for what she picked (online -> psychological, FGM -> physical), no repeats."""
    return list(dict.fromkeys(TYPE_MAP.get(p, p) for p in picked if p in TYPE_OPTIONS))


def urgent_health(picked: Any, when: Any) -> bool:
    """Sexual violence that may be within 72 hours: PEP and emergency contraception still work."""
    types = set(picked if isinstance(picked, (list, tuple)) else [])
    return bool(types & SEXUAL) and when in RECENT


def phone_number(text: str) -> Optional[str]:
    """A number she typed for the desk to use (digits, spaces, + ( ) - .), or None."""
    match = NUMBER_RE.fullmatch(text.strip())
    digits = re.sub(r"\D", "", text)
    return text.strip()[:40] if match and 6 <= len(digits) <= 15 else None


def draft_from_slots(slots: Mapping[str, Any]) -> dict[str, Any]:
    """The Draft dictionary for bot.reporting (SKIP and anything unset become None)."""
    def val(name: str) -> Any:
        value = slots.get(name)
        return None if value in (None, SKIP) else value

    types = val("report_types")
    place = val("report_place")
    safe, doctor = val("report_safe"), val("report_doctor")
    identity = val("report_identity")
    contact = val("report_contact")
    named = isinstance(identity, str) and identity not in ("anonymous", "")
    return {
        "incident_types": incident_types(types if isinstance(types, list) else []),
        "when": val("report_when"),
        "place": dict(place) if isinstance(place, Mapping) else None,
        "safe_now": None if safe is None else safe == "yes",
        "needs_doctor": None if doctor is None else doctor == "yes",
        "relationship": val("report_relationship"),
        "anonymous": not named,
        "name": identity if named else None,
        "contact": dict(contact) if isinstance(contact, Mapping) else {"mode": "chat"},
        "statement": val("report_statement"),
    }
