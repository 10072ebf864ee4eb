"""Readers for single directory fields: yes/no, service types, phone numbers, languages."""

from __future__ import annotations

import re
from typing import Any, Optional, cast

TYPE_ALIASES = {
    "gender_desk": "gender_desk",
    "police_gender_desk": "gender_desk",
    "gbv_desk": "gender_desk",
    "one_stop_centre": "one_stop_centre",
    "one_stop_center": "one_stop_centre",
    "onestop_centre": "one_stop_centre",
    "gbvrc": "one_stop_centre",
    "shelter": "shelter",
    "safe_house": "shelter",
    "police": "police",
    "police_station": "police",
    "hospital": "hospital",
    "clinic": "hospital",
    "health_facility": "hospital",
    "legal_aid": "legal_aid",
    "counselling": "counselling",
    "counseling": "counselling",
    "hotline": "hotline",
    "helpline": "hotline",
}
PHONE_TYPES = ("voice", "text", "sms", "fax", "cell", "video", "pager", "textphone", "hotline")
STATUSES = ("active", "inactive", "defunct", "temporarily closed")
TRUE_WORDS = {"1", "true", "yes", "y", "si", "sí", "oui", "sim", "ndiyo", "x"}
FALSE_WORDS = {"", "0", "false", "no", "n", "non", "nao", "não", "hapana"}
# Number ranges reserved for fiction (Ofcom drama numbers): allowed only in demo records.
FICTIONAL_PREFIXES = ("+447700900", "+442079460", "+448081570")


def text_or_none(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = (str(value) if value is not None else "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not yes/no")


def normalise_type(value: Any) -> Optional[str]:
    key = re.sub(r"[\s\-/]+", "_", str(value or "").strip().lower())
    return TYPE_ALIASES.get(key)


def is_fictional(number: str) -> bool:
    digits = "+" + re.sub(r"\D", "", number) if number.strip().startswith("+") else number
    return digits.startswith(FICTIONAL_PREFIXES)


def check_phone(number: str, country: str, demo: bool) -> tuple[Optional[str], Optional[str]]:
    """(formatted number, None) or (None, reason)."""
    import phonenumbers
    from phonenumbers import shortnumberinfo

    raw = number.strip()
    if is_fictional(raw):
        if demo:
            parsed = phonenumbers.parse(raw, None)
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL), None
        return None, f"phone {raw!r} is in a range reserved for fiction; only demo listings may use it"
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None, f"phone {raw!r} is not a phone number"
    digits = re.sub(r"\D", "", raw)
    if not raw.startswith("+") and len(digits) <= 6:
        if shortnumberinfo.is_valid_short_number_for_region(parsed, country) or len(digits) >= 3:
            return digits, None
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL), None
    return None, f"phone {raw!r} is not a valid number for {country}"


def language_code(value: Any) -> Optional[str]:
    if isinstance(value, dict):
        value = value.get("code") or value.get("name")
    word = str(value or "").strip()
    if re.fullmatch(r"[A-Za-z]{2,3}", word):
        return word.lower()
    from babel import Locale

    for lang in ("en", "fr", "es", "pt", "sw"):
        for code, name in Locale(lang).languages.items():
            if name.lower() == word.lower() and re.fullmatch(r"[a-z]{2,3}", code):
                return cast(str, code)  # babel's Locale.languages is untyped: dict[str, str]
    return None
