"""Per-turn context: language (choice > sticky detection > greeting > channel hint > her country's
language), country (choice > phone > place or pin > Telegram region > single deployment country), risk."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any, Dict, Iterator, List, Optional, Sequence, Text

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import countries, country_detect, i18n
from bot.settings import ROOT
from bot.text import normalise

GREETINGS_FILE = ROOT / "data" / "greetings.yml"
CHOOSE_COUNTRY = "/choose_country"  # the country question's buttons (bot.country_texts)

RISK_BY_INTENT = {"immediate_danger": "danger", "third_party_danger": "danger", "disclose_abuse": "disclosed"}


def latest_metadata(tracker: Tracker) -> Dict[str, Any]:
    """Channel metadata of the latest user message (language hint, country, location)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("metadata") or {}
    return {}


def chosen_language(tracker: Tracker) -> Optional[str]:
    """The language named by a choose_language message, if any."""
    if (tracker.latest_message.get("intent") or {}).get("name") != "choose_language":
        return None
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "language" and i18n.supported(str(entity.get("value")).lower()):
            return str(entity["value"]).lower()
    return None


@lru_cache(maxsize=1)
def greetings() -> dict[str, frozenset[str]]:
    """Short greetings per language (data/greetings.yml), normalised."""
    with GREETINGS_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return {lang: frozenset(normalise(w) for w in words) for lang, words in (data.get("greetings") or {}).items()}


def greeting_language(text: str, prior: Sequence[str] = ()) -> Optional[str]:
    """The language of a short greeting: the only one it belongs to, or the first of `prior`
    (her country's languages) among several."""
    norm = normalise(text)
    langs = [lang for lang, words in greetings().items() if norm in words and i18n.supported(lang)]
    for lang in prior:
        if lang in langs:
            return lang
    return langs[0] if len(langs) == 1 else None


def _hint(value: Any) -> Optional[str]:
    code = str(value or "").split("-")[0].split("_")[0].lower()
    return code if i18n.supported(code) else None


def decide_language(tracker: Tracker, country: Optional[str] = None) -> List[Dict[Text, Any]]:
    """Slot events for the conversation language. Explicit choice is sticky. Detection switches on a
    confident, long-enough message, and an established language only when two messages in a row
    agree. With no language yet: a short greeting's language (her country's among several), a
    tentative guess, a channel hint, her country's main language, then the default."""
    current = tracker.get_slot("language")
    source = tracker.get_slot("language_source")
    choice = chosen_language(tracker)
    if choice:
        return [SlotSet("language", choice), SlotSet("language_source", "choice"), SlotSet("language_confidence", 1.0)]
    text = tracker.latest_message.get("text") or ""
    events: List[Dict[Text, Any]] = []
    unset = not i18n.supported(current)
    # A language detected earlier: switching it needs two messages in a row guessed as the same new
    # language (a place name like "Nakuru" must not flip English to Swahili). A channel hint (her
    # app's language) is weaker than her own words: one confident message in another language wins.
    established = not unset and source == "detected"
    hint = _hint(latest_metadata(tracker).get("language_hint"))
    if text and not text.startswith("/"):
        detection = i18n.detect_language(text)
        previous_guess = tracker.get_slot("language_guess")
        events += [SlotSet("language_confidence", round(detection.confidence, 3)), SlotSet("language_guess", detection.best_guess)]
        if detection.language and source != "choice" and detection.language != current:
            if not established or previous_guess == detection.language:
                return events + [SlotSet("language", detection.language), SlotSet("language_source", "detected")]
        prior = countries.languages(country)
        greeting = greeting_language(text, prior) if unset else None
        if greeting:
            return events + [SlotSet("language", greeting), SlotSet("language_source", "greeting")]
        if unset and not hint and detection.tentative:
            return events + [SlotSet("language", detection.tentative), SlotSet("language_source", "detected")]
    if (unset or source in ("default", "country")) and hint and hint != current:
        return events + [SlotSet("language", hint), SlotSet("language_source", "channel")]
    if unset:
        prior_language = next((lang for lang in countries.languages(country) if i18n.supported(lang)), None)
        if prior_language:
            return events + [SlotSet("language", prior_language), SlotSet("language_source", "country")]
        return events + [SlotSet("language", i18n.DEFAULT_LANGUAGE), SlotSet("language_source", "default")]
    return events


def _asked_country(tracker: Tracker) -> bool:
    """Whether Haven's last message before her latest one was the country question."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            buttons = (event.get("data") or {}).get("buttons") or []
            return any(str(b.get("payload") or "").startswith(CHOOSE_COUNTRY) for b in buttons)
    return False


def chosen_country(tracker: Tracker) -> Optional[str]:
    """The country she chose: a country button (choose_country) or, answering the question, a
    country or place she names."""
    if (tracker.latest_message.get("intent") or {}).get("name") == "choose_country":
        for entity in tracker.latest_message.get("entities") or []:
            if entity.get("entity") == "country" and countries.get(str(entity.get("value"))):
                return str(entity["value"]).upper()
        return None
    text = str(tracker.latest_message.get("text") or "")
    if text and _asked_country(tracker):
        return country_detect.named_country(text, tracker.get_slot("language"))
    return None


def _candidates(tracker: Tracker, source: Optional[str]) -> Iterator[tuple[Optional[str], str]]:
    """Country candidates this turn, strongest first; the gazetteer is asked only when needed."""
    metadata = latest_metadata(tracker)
    yield chosen_country(tracker), "choice"
    channel_country = str(metadata.get("country") or "").upper()
    floor = source
    if len(channel_country) == 2 and countries.get(channel_country):
        channel_source = str(metadata.get("country_source") or "phone")
        floor = channel_source if countries.stronger(channel_source, source) else source
        yield channel_country, channel_source
    if not countries.stronger("place", floor):
        return  # her phone's country (or her choice) outranks any place she names
    location = metadata.get("location")
    if isinstance(location, dict) and location.get("lat") is not None and location.get("lon") is not None:
        yield country_detect.pin_country(float(location["lat"]), float(location["lon"])), "place"
    # Only a place the NLU recognised as one: matching every word of every message against the
    # gazetteer took "porta" (door) for Porta, Spain, and gave a Swahili speaker in danger another
    # country's emergency number.
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "place" and entity.get("value"):
            yield country_detect.named_country(str(entity["value"]), tracker.get_slot("language")), "place"


def decide_country(tracker: Tracker) -> List[Dict[Text, Any]]:
    """Slot events for her country: the strongest source this turn that may replace the current one."""
    current, source = tracker.get_slot("country"), tracker.get_slot("country_source")
    valid = [(code, how) for code, how in _candidates(tracker, source)
             if code and countries.get(code) and countries.stronger(how, source)]
    if not valid:
        return []
    code, how = min(valid, key=lambda c: countries.SOURCES.index(c[1]))
    if code == current and how == source:
        return []
    return [SlotSet("country", code), SlotSet("country_source", how)]


class ActionReadContext(Action):
    """Slot-mapping action run every turn: language, country, risk, and duress (from the gate)."""

    def name(self) -> Text:
        return "action_read_context"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        country_events = await asyncio.to_thread(decide_country, tracker)  # the gazetteer blocks
        country = next((e["value"] for e in country_events if e.get("name") == "country"), tracker.get_slot("country"))
        events = decide_language(tracker, country) + country_events
        duress = latest_metadata(tracker).get("duress")
        if isinstance(duress, bool) and duress != bool(tracker.get_slot("duress")):
            events.append(SlotSet("duress", duress))
        risk = RISK_BY_INTENT.get((tracker.latest_message.get("intent") or {}).get("name", ""))
        if risk and tracker.get_slot("risk") != "danger" and risk != tracker.get_slot("risk"):
            events.append(SlotSet("risk", risk))
        if risk == "danger":  # danger while she waits in the queue moves her to the front, every time
            from actions.danger import escalate_if_queued

            await escalate_if_queued(tracker.sender_id)
        return events


class ActionMarkOnboarded(Action):
    """First contact done (the safe-to-talk question has been asked)."""

    def name(self) -> Text:
        return "action_mark_onboarded"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        return [SlotSet("onboarded", True)]


class ActionChooseLanguage(Action):
    """Confirm a named language and show the menu in it, or offer the language menu."""

    def name(self) -> Text:
        return "action_choose_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if chosen_language(tracker):
            dispatcher.utter_message(response="utter_language_changed")
            dispatcher.utter_message(response="utter_main_menu")
        else:
            dispatcher.utter_message(response="utter_language_menu")
        return []
