"""Small readers for follow-up messages: "the second one", "open now", "who speaks Swahili".

Word lists cover en, fr, es, pt and sw; everything is matched on bot.text.normalise'd text.
"""

from __future__ import annotations

import re
from typing import Optional

from bot.text import contains_phrase, normalise

ORDINALS: dict[int, tuple[str, ...]] = {
    1: ("first", "1st", "one", "premier", "premiere", "un", "une", "primero", "primera", "primer", "uno",
        "primeiro", "um", "uma", "kwanza", "moja"),
    2: ("second", "2nd", "two", "deuxieme", "seconde", "deux", "segundo", "segunda", "dos", "dois", "duas",
        "pili", "mbili", "ya pili"),
    3: ("third", "3rd", "three", "troisieme", "trois", "tercero", "tercera", "tercer", "tres", "terceiro",
        "terceira", "tres", "tatu", "ya tatu"),
    4: ("fourth", "4th", "four", "quatrieme", "quatre", "cuarto", "cuarta", "cuatro", "quarto", "quarta",
        "quatro", "nne", "ya nne"),
    5: ("fifth", "5th", "five", "cinquieme", "cinq", "quinto", "quinta", "cinco", "tano", "ya tano"),
}  # fmt: skip
LAST_WORDS = ("last", "last one", "dernier", "derniere", "ultimo", "ultima", "mwisho", "ya mwisho")
OPEN_NOW = (
    "open now", "opened now", "right now", "tonight", "at night", "this night", "24 hours", "24h", "24 7",
    "ouvert maintenant", "maintenant", "ce soir", "cette nuit", "abierto ahora", "ahora mismo", "esta noche",
    "aberto agora", "agora mesmo", "esta noite", "hoje a noite", "sasa hivi", "usiku huu", "leo usiku", "iko wazi sasa",
)  # fmt: skip
LANGUAGE_WORDS: dict[str, tuple[str, ...]] = {
    "sw": ("swahili", "kiswahili", "souahili", "suajili", "suaili"),
    "en": ("english", "anglais", "ingles", "kiingereza"),
    "fr": ("french", "francais", "frances", "kifaransa"),
    "es": ("spanish", "espagnol", "espanol", "espanhol", "castellano", "kihispania"),
    "pt": ("portuguese", "portugais", "portugues", "kireno"),
    "rw": ("kinyarwanda", "ikinyarwanda"),
    "wo": ("wolof",),
    "qu": ("quechua", "runasimi"),
    "ca": ("catalan", "catala"),
}
SPEAK_WORDS = ("speak", "speaks", "language", "parle", "parlent", "langue", "habla", "hablan", "idioma", "lengua",
               "fala", "falam", "lingua", "anaongea", "wanaongea", "lugha", "in")  # fmt: skip
TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "gender_desk": ("gender desk", "gbv desk", "bureau genre", "mesa de genero", "delegacia da mulher", "dawati la jinsia"),
    "one_stop_centre": ("one stop", "onestop", "gbvrc", "centre integre", "centro integral", "centro integrado"),
    "shelter": ("shelter", "safe house", "safehouse", "refuge", "refugio", "albergue", "casa de acogida", "abrigo",
                "casa abrigo", "casa de acolhimento", "nyumba salama", "makazi"),
    "police": ("police", "polisi", "commissariat", "gendarmerie", "comisaria", "policia", "delegacia"),
    "hospital": ("hospital", "clinic", "health centre", "health center", "pep", "hopital", "clinique", "centre de sante",
                 "centro de salud", "centro de saude", "posto de saude", "hospitali", "zahanati", "kliniki"),
    "legal_aid": ("legal aid", "lawyer", "avocat", "juridique", "abogado", "abogada", "juridico", "advogado",
                  "advogada", "defensoria", "wakili", "msaada wa kisheria"),
    "counselling": ("counselling", "counseling", "counsellor", "counselor", "psychologist", "ecoute", "psychologue",
                    "psicologo", "psicologa", "escucha", "escuta", "ushauri", "mshauri"),
    "hotline": ("hotline", "helpline", "toll free", "numero vert", "linea gratuita", "linha gratuita", "nambari ya bure"),
}  # fmt: skip


def choice_number(text: str, limit: int) -> Optional[int]:
    """1-based item number from "2", "#2", "number 2", "the second one", "ya pili", "la última"."""
    norm = normalise(text)
    digits = re.findall(r"(?<![\d.])(\d{1,2})(?![\d.])", norm)
    if len(digits) == 1 and 1 <= int(digits[0]) <= limit:
        return int(digits[0])
    if contains_phrase(norm, LAST_WORDS):
        return limit if limit > 0 else None
    found = [n for n, words in ORDINALS.items() if contains_phrase(norm, words) and n <= limit]
    # "the second one": "one" also names 1; prefer the other ordinal.
    if len(found) > 1 and 1 in found and not re.search(r"\b(first|premier|primer|primeiro|kwanza)\b", norm):
        found.remove(1)
    return found[0] if len(found) == 1 else None


def wants_open_now(text: str) -> bool:
    return contains_phrase(normalise(text), OPEN_NOW)


def languages_asked(text: str) -> list[str]:
    """Languages she asks for by name ("someone who speaks swahili")."""
    norm = normalise(text)
    if not contains_phrase(norm, SPEAK_WORDS):
        return []
    return sorted(code for code, words in LANGUAGE_WORDS.items() if contains_phrase(norm, words))


def types_in_text(text: str) -> list[str]:
    """Service types named in the text, when NLU gave no service_type entity."""
    norm = normalise(text)
    found = [stype for stype, words in TYPE_WORDS.items() if contains_phrase(norm, words)]
    if "gender_desk" in found and "police" in found:
        found.remove("police")
    return found
