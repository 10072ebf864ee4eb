"""A long result list on SMS is split between its items, never inside one (issue 15: item 2 lost
its phone number), and every later part opens with a neutral, lock-screen-safe header."""

from __future__ import annotations

import pytest

from bot import i18n
from bot.settings import SUPPORTED_LANGUAGES
from channels import segments

ITEMS = [
    f"{n}. DEMO Centro de atenção integrada número {n} da cidade, a {n},5 km, +44 7700 9000{n:02d}, aberto agora, 24 horas"
    for n in range(1, 4)  # three places, as a search shows
]


def continued(lang: str) -> str:
    return str(i18n.catalog().message("channels_sms_continued", lang))


@pytest.mark.parametrize("lang", ["pt", "fr", "sw"])
def test_list_split_between_items(lang: str) -> None:
    text = "Lugares mais próximos que podem ajudar, perto de Maputo:\n" + "\n".join(ITEMS)
    tail = segments.numbered_tail([{"title": "Mais"}, {"title": "Menu"}], lang)
    assert segments.segment_count(text + tail) > 3  # too long for one message of 3 segments
    bodies = segments.plan_sms(text, 3, tail, continued=continued(lang))
    assert len(bodies) > 1
    for body in bodies:
        assert segments.segment_count(body) <= 3
    joined = "\n".join(bodies)
    for item in ITEMS:  # every item whole, phone number included, in exactly one message
        assert sum(segments.smart_encode(item) in b for b in bodies) == 1, item
    assert "..." not in joined and "\u2026" not in joined
    assert bodies[-1].endswith(segments.smart_encode(tail.strip("\n")))
    for n, body in enumerate(bodies[1:], 2):
        assert body.startswith(continued(lang).format(part=n, parts=len(bodies)))


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_continued_header_is_neutral_and_long_enough(lang: str) -> None:
    """The header fills the lock-screen preview (40 characters), so no service name shows there."""
    header = continued(lang).format(part=2, parts=3)
    assert len(header) >= 40
    assert not any(w in i18n.strip_accents_lower(header) for w in ("polic", "violen", "abus", "haven"))


def test_a_single_paragraph_is_still_cut_at_a_word() -> None:
    text = "word " * 200
    bodies = segments.plan_sms(text, 2, continued=continued("en"))
    assert len(bodies) == 1 and bodies[0].endswith("...")


def test_without_a_header_the_old_cut_remains() -> None:
    text = "Nearest places:\n" + "\n".join(ITEMS)
    assert len(segments.plan_sms(text, 2)) == 1
