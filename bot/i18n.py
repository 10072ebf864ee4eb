"""Locales: load `locales/<lang>/*.yml`, render responses per language and channel, detect language.

Layout: each language is a folder. `lexicon.yml` holds the safety lexicon (quick-exit words,
danger phrases); every other file holds `responses:` (response name -> message). All languages
must define the same response names with the same placeholders (tests enforce it).

A message is either a string or a mapping with:
  text:     the text; `{name}` placeholders; or a plural mapping {one: ..., other: ...} chosen by `count`
  sms / whatsapp / telegram: optional channel-specific text (e.g. shorter for SMS)
  buttons:  list of {title, payload}
  custom:   optional channel hints (e.g. {request_location: true}), passed through untouched
"""

from __future__ import annotations

import string
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional, TypeGuard

import yaml

from bot.settings import ROOT, SUPPORTED_LANGUAGES
from bot.text import normalise, strip_accents

LOCALES_DIR = ROOT / "locales"
DEFAULT_LANGUAGE = "en"
CHANNEL_VARIANTS = ("sms", "whatsapp", "telegram")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español", "pt": "Português", "sw": "Kiswahili"}


class LocaleError(RuntimeError):
    """A locale file is missing, malformed, or a response/placeholder is inconsistent."""


@dataclass(frozen=True)
class Lexicon:
    """A language's safety lexicon, already normalised."""

    quick_exit: frozenset[str]
    danger: tuple[str, ...]
    third_party: tuple[str, ...] = ()  # phrases naming someone else as the person in danger
    forced_marriage: tuple[str, ...] = ()  # phrases of a forced or child marriage disclosure


@dataclass
class Catalog:
    """All languages' responses and lexicons, loaded from a locales folder."""

    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    lexicons: dict[str, Lexicon] = field(default_factory=dict)

    def languages(self) -> list[str]:
        return sorted(self.responses)

    def message(self, name: str, language: str) -> Any:
        for lang in (language, DEFAULT_LANGUAGE):
            table = self.responses.get(lang, {})
            if name in table:
                return table[name]
        raise LocaleError(f"response {name!r} is not defined")


def _load_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        raise LocaleError(f"{path}: invalid YAML ({exc.__class__.__name__})") from exc


def load_catalog(folder: Path = LOCALES_DIR) -> Catalog:
    """Read every language folder under `folder`."""
    catalog = Catalog()
    for lang_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        lang = lang_dir.name
        responses: dict[str, Any] = {}
        for path in sorted(lang_dir.glob("*.yml")):
            data = _load_yaml(path)
            if path.name == "lexicon.yml":
                catalog.lexicons[lang] = Lexicon(
                    quick_exit=frozenset(normalise(w) for w in data.get("quick_exit", []) if normalise(w)),
                    danger=tuple(sorted({normalise(p) for p in data.get("danger", []) if normalise(p)})),
                    third_party=tuple(sorted({normalise(p) for p in data.get("third_party") or [] if normalise(p)})),
                    forced_marriage=tuple(sorted({normalise(p) for p in data.get("forced_marriage") or [] if normalise(p)})),
                )
                continue
            for name, message in (data.get("responses") or {}).items():
                if name in responses:
                    raise LocaleError(f"{path}: response {name!r} defined twice in {lang}")
                responses[name] = message
        catalog.responses[lang] = responses
    return catalog


_lock = threading.Lock()


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The process-wide catalog (loaded once)."""
    with _lock:
        return load_catalog()


def placeholders(message: Any) -> set[str]:
    """Every `{name}` placeholder used anywhere in a message (text, sms, plural forms, buttons)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            for _, name, _, _ in string.Formatter().parse(value):
                if name:
                    found.add(name.split(".")[0].split("[")[0])
        elif isinstance(value, Mapping):
            for key, sub in value.items():
                if key not in ("payload", "custom"):
                    walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)

    walk(message)
    return found


class _Args(dict):  # type: ignore[type-arg]
    """Format arguments where a missing name renders as an empty string, never a crash."""

    def __missing__(self, key: str) -> str:
        return ""


def _plural(forms: Mapping[str, str], language: str, count: Any) -> str:
    try:
        from babel import Locale

        category = Locale.parse(language).plural_form(abs(int(count)))
    except Exception:  # noqa: BLE001 - unknown locale or count: fall back to one/other
        category = "one" if str(count) == "1" else "other"
    return forms.get(category) or forms.get("other") or next(iter(forms.values()))


def fill(template: Any, language: str, args: Mapping[str, Any]) -> str:
    """Render one text (string or plural mapping) with `args`."""
    if isinstance(template, Mapping):
        template = _plural(template, language, args.get("count", 0))
    return string.Formatter().vformat(str(template), (), _Args(args))


def render(name: str, language: str, channel: Optional[str] = None, **args: Any) -> dict[str, Any]:
    """Render a response to Rasa's NLG reply shape: {text, buttons, custom, ...}."""
    lang = language if language in catalog().responses else DEFAULT_LANGUAGE
    message = catalog().message(name, lang)
    if not isinstance(message, Mapping):
        message = {"text": message}
    text_template = message.get("text", "")
    if channel in CHANNEL_VARIANTS and message.get(channel):
        text_template = message[channel]
    out: dict[str, Any] = {"text": fill(text_template, lang, args)}
    buttons = [
        {"title": fill(b["title"], lang, args), "payload": b["payload"]} for b in message.get("buttons", []) or []
    ]
    out["buttons"] = buttons
    if message.get("custom"):
        out["custom"] = dict(message["custom"])
    return out


def text(name: str, language: str, channel: Optional[str] = None, **args: Any) -> str:
    """Just the rendered text of a response."""
    return str(render(name, language, channel, **args)["text"])


def strip_accents_lower(text: str) -> str:
    return strip_accents(text).lower()


def lexicon(language: str) -> Lexicon:
    return catalog().lexicons.get(language) or Lexicon(frozenset(), ())


def all_quick_exit_words() -> frozenset[str]:
    """Quick-exit words of every language (matching never depends on a language guess)."""
    words: set[str] = set()
    for lex in catalog().lexicons.values():
        words |= lex.quick_exit
    return frozenset(words)


# ---------------------------------------------------------------- language detection

DETECTION_MIN_CONFIDENCE = 0.75
DETECTION_MIN_LETTERS = 12  # "ok", "si", "yes pls" never switch language
# While a conversation has no real language yet (first message), a weaker guess beats a default.
TENTATIVE_MIN_CONFIDENCE = 0.5
TENTATIVE_MIN_LETTERS = 6


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in SUPPORTED_LANGUAGES]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_preloaded_language_models().build()


@dataclass(frozen=True)
class Detection:
    """A language guess: `language` is None when the text is too short or the guess too weak to
    switch languages; `tentative` is a guess good enough when no language is known yet."""

    language: Optional[str]
    confidence: float
    best_guess: Optional[str]
    tentative: Optional[str] = None


def detect_language(message: str) -> Detection:
    """Detect among the supported languages; abstain on short or uncertain text."""
    letters = sum(ch.isalpha() for ch in message)
    if letters == 0:
        return Detection(None, 0.0, None)
    values = _detector().compute_language_confidence_values(message)
    if not values:
        return Detection(None, 0.0, None)
    top = values[0]
    code = top.language.iso_code_639_1.name.lower()
    confidence = float(top.value)
    tentative = code if letters >= TENTATIVE_MIN_LETTERS and confidence >= TENTATIVE_MIN_CONFIDENCE else None
    if letters < DETECTION_MIN_LETTERS or confidence < DETECTION_MIN_CONFIDENCE:
        return Detection(None, confidence, code, tentative)
    return Detection(code, confidence, code, code)


def supported(language: Optional[str]) -> TypeGuard[str]:
    return language in SUPPORTED_LANGUAGES
