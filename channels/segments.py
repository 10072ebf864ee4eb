"""SMS text shaping: GSM-7 / UCS-2 segment arithmetic, word-boundary trimming, numbered options.

Hand-written on purpose: neither twilio-python nor python-telegram-bot counts SMS segments, and
the GSM 03.38 tables below are small and fixed. A reply is sent as ONE concatenated SMS (the phone
shows one notification whose first characters are the reply's neutral opening, which keeps the
lock-screen guarantee); if it would need more than `max_segments` segments its text is cut at a
word boundary. Only a body longer than the provider's per-message limit (1600 characters at
Twilio) is split into several messages, again at word boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

# GSM 03.38 basic character set (one septet each; ESC omitted) and extension table (two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
# Typographic characters replaced by GSM equivalents before counting (like Twilio's Smart
# Encoding): a French apostrophe must not turn a whole reply into UCS-2 at 70 characters.
SMART_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2022": "-", "\u00ab": '"', "\u00bb": '"',
}
GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67
TWILIO_MAX_BODY = 1600


def smart_encode(text: str) -> str:
    """Replace typographic quotes, dashes, ellipses and odd spaces by GSM-7 equivalents."""
    return "".join(SMART_REPLACEMENTS.get(ch, ch) for ch in text)


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


@dataclass(frozen=True)
class Encoding:
    """How a body travels: 'GSM-7' or 'UCS-2', with its per-segment capacities in units."""

    name: str
    single: int
    multi: int


GSM7 = Encoding("GSM-7", GSM7_SINGLE, GSM7_MULTI)
UCS2 = Encoding("UCS-2", UCS2_SINGLE, UCS2_MULTI)


def encoding_for(text: str) -> Encoding:
    return GSM7 if is_gsm7(text) else UCS2


def _units(text: str, encoding: Encoding) -> list[int]:
    if encoding is GSM7:
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # UTF-16 surrogate pairs


def segment_count(text: str) -> int:
    """Segments the body needs (an escape pair or surrogate pair never straddles two segments)."""
    encoding = encoding_for(text)
    units = _units(text, encoding)
    if sum(units) <= encoding.single:
        return 1
    segments, used = 1, 0
    for unit in units:
        if used + unit > encoding.multi:
            segments += 1
            used = 0
        used += unit
    return segments


def _word_cuts(text: str) -> list[int]:
    """Positions where the text may be cut: before each whitespace run, plus the end."""
    cuts = [i for i in range(1, len(text)) if text[i].isspace() and not text[i - 1].isspace()]
    return cuts + [len(text)]


def fit_segments(text: str, tail: str, max_segments: int) -> tuple[str, bool]:
    """`text` cut at a word boundary (with an ellipsis) so that text + tail fits; (body, trimmed)."""
    whole = text + tail
    if segment_count(whole) <= max_segments:
        return whole, False
    ellipsis = "..." if is_gsm7(whole) else "\u2026"
    cuts = _word_cuts(text)
    lo, hi, best = 0, len(cuts) - 1, -1
    while lo <= hi:  # the segment count grows with the prefix length: binary search the cut
        mid = (lo + hi) // 2
        if segment_count(text[: cuts[mid]].rstrip() + ellipsis + tail) <= max_segments:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    if best >= 0:
        return text[: cuts[best]].rstrip() + ellipsis + tail, True
    # Even one word does not fit beside the tail: hard-cut the whole body.
    units_budget = encoding_for(whole).multi * max_segments - len(ellipsis)
    return whole[: max(0, units_budget)].rstrip() + ellipsis, True


def split_words(text: str, limit: int) -> list[str]:
    """Split into chunks of at most `limit` characters at word boundaries (hard cut a giant word)."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = max(window.rfind(" "), window.rfind("\n"))
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


MAX_SMS_PARTS = 4  # a long list goes as at most this many SMS, split between its lines (else cut)


def plan_sms(text: str, max_segments: int, tail: str = "", max_body: int = TWILIO_MAX_BODY, continued: str = "") -> list[str]:
    """The bodies to send for one reply: smart-encoded, at most `max_segments` each.

    A reply that does not fit and has several lines (a result list: one line per place) is split
    between its lines into up to MAX_SMS_PARTS messages, never inside a line; every later part
    starts with `continued` (a neutral header with {part} and {parts}), the options go with the
    last. Otherwise it is cut at a word boundary."""
    segments = max(1, max_segments)
    text, tail = smart_encode(text), smart_encode(tail)
    if continued and segment_count(text + tail) > segments and "\n" in text.strip():
        parts = split_lines(text, tail, segments, smart_encode(continued))
        if parts is not None:
            return parts
    body, _ = fit_segments(text, tail, segments)
    return split_words(body, max_body) if len(body) > max_body else [body]


def split_lines(text: str, tail: str, max_segments: int, continued: str) -> list[str] | None:
    """`text` in messages of whole lines (see plan_sms); None when one line alone is too long or
    more than MAX_SMS_PARTS messages would be needed."""
    lines = [line for line in text.strip().split("\n")]
    header = continued.format(part=MAX_SMS_PARTS, parts=MAX_SMS_PARTS) + "\n"  # the longest header
    groups: list[list[str]] = [[]]
    for line in lines:
        prefix = "" if len(groups) == 1 else header
        candidate = "\n".join([*groups[-1], line])
        if segment_count(prefix + candidate) <= max_segments:
            groups[-1].append(line)
            continue
        if not groups[-1] or segment_count(header + line) > max_segments:
            return None
        groups.append([line])
    if segment_count(("" if len(groups) == 1 else header) + "\n".join(groups[-1]) + tail) > max_segments:
        if segment_count(header + tail.strip()) > max_segments:
            return None
        groups.append([])  # the options alone in a last part
    if len(groups) > MAX_SMS_PARTS:
        return None
    total = len(groups)
    bodies = []
    for i, group in enumerate(groups, 1):
        body = "\n".join(group)
        if i > 1:
            body = continued.format(part=i, parts=total) + "\n" + body
        if i == total:
            body = (body + tail) if group else body.rstrip("\n") + "\n" + tail.strip("\n")
        bodies.append(body.strip("\n"))
    return bodies


def option_lines(buttons: Sequence[Mapping[str, Any]]) -> str:
    """'1. Title' lines for a reply's buttons."""
    return "\n".join(f"{i}. {str(b.get('title') or b.get('payload') or '').strip()}" for i, b in enumerate(buttons, 1))


def reply_hint(count: int, language: str) -> str:
    """'Reply 1, 2, or 3' in her language (the list itself formatted by babel's CLDR data)."""
    from babel.lists import format_list

    from bot import i18n

    numbers = [str(i) for i in range(1, count + 1)]
    try:
        options = format_list(numbers, style="or", locale=language)
    except Exception:  # noqa: BLE001 - unknown locale data: plain commas
        options = ", ".join(numbers)
    return i18n.text("channels_reply_number", language, options=options)


def numbered_tail(buttons: Sequence[Mapping[str, Any]], language: str) -> str:
    """The block appended to a text with buttons: blank line, numbered options, reply hint."""
    if not buttons:
        return ""
    return "\n\n" + option_lines(buttons) + "\n" + reply_hint(len(buttons), language)


def parse_number(text: Any) -> int | None:
    """'2', ' 2. ', '#2' -> 2; anything else -> None."""
    if not isinstance(text, str):
        return None
    core = text.strip().strip(".)#").strip()
    if core.isdecimal() and len(core) <= 2:
        return int(core)
    return None
