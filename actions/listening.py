"""Listening actions: acknowledge a disclosure as a disclosure, answer the question she asked
("he checks my phone", "will the police call my husband?"), and offer the main menu only when it
helps (not after every acknowledgement). The decisions are in bot.listening.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.danger import support_disclosure
from bot import listening

ANSWERS = {"police_contact": "utter_answer_police_contact", "phone_checked": "utter_answer_phone_checked"}


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def answer_questions(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[str]:
    """Answer each question her words ask (most specific first); the responses sent."""
    sent = []
    for topic in listening.topics_in(_text(tracker)):
        response = ANSWERS.get(topic)
        if response:
            dispatcher.utter_message(response=response)
            sent.append(response)
    return sent


def offer_menu(dispatcher: CollectingDispatcher, tracker: Tracker, just_sent: list[str]) -> None:
    """The main menu, unless it (or a reply with its options) was shown a moment ago, or this
    turn already answered with options of its own."""
    if just_sent:
        return
    if listening.menu_helps(listening.bot_responses(tracker.events)):
        dispatcher.utter_message(response="utter_main_menu")


class ActionAcknowledgeDisclosure(Action):
    """She told what happened: acknowledge it, answer what she asked with it, menu if it helps."""

    def name(self) -> Text:
        return "action_acknowledge_disclosure"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        support_disclosure(dispatcher, tracker)
        offer_menu(dispatcher, tracker, answer_questions(dispatcher, tracker))
        return []


class ActionOfferMenu(Action):
    """After an acknowledgement (distress, help, greeting again): a question her words ask is
    answered (whatever the model read them as), else the menu, only when it helps."""

    def name(self) -> Text:
        return "action_offer_menu"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        offer_menu(dispatcher, tracker, answer_questions(dispatcher, tracker))
        return []


class _AnswerOrDefault:
    """Shared run(): the answer to the question she asked, else the path's general text."""

    default: str
    then: tuple[str, ...] = ()  # what follows the general text (e.g. the offer to make a report)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if not answer_questions(dispatcher, tracker):
            dispatcher.utter_message(response=self.default)
            for response in self.then:  # after the general text only: a direct answer stands alone
                dispatcher.utter_message(response=response)
        return []


class ActionAnswerPrivacy(_AnswerOrDefault, Action):
    """A privacy question: the answer to the one she asked, else the general privacy text."""

    default = "utter_privacy_info"

    def name(self) -> Text:
        return "action_answer_privacy"


class ActionAnswerReporting(_AnswerOrDefault, Action):
    """A reporting question ("will the police call my husband?"): answered, else how reporting works."""

    default = "utter_reporting_info"
    then = ("utter_report_offer",)

    def name(self) -> Text:
        return "action_answer_reporting"


class ActionFallbackAnswer(Action):
    """Not understood by the model: her words may still ask a known question or tell what
    happened; answer that, else say so and offer the options."""

    def name(self) -> Text:
        return "action_fallback_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        topics = listening.topics_in(_text(tracker))
        if "disclosure" in topics:
            events: List[Dict[Text, Any]] = []
            if tracker.get_slot("risk") not in ("danger", "disclosed"):
                events.append(SlotSet("risk", "disclosed"))
            support_disclosure(dispatcher, tracker)
            offer_menu(dispatcher, tracker, answer_questions(dispatcher, tracker))
            return events
        if not answer_questions(dispatcher, tracker):
            dispatcher.utter_message(response="utter_fallback")
        return []
