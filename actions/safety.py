"""Safety actions: safety information for her channel and country, and the phrased quick exit."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop
from rasa_sdk.executor import CollectingDispatcher


class ActionSafetyInfo(Action):
    """A short safety plan, how to delete this chat on her channel, her country's numbers, and
    the offer of a code word."""

    def name(self) -> Text:
        return "action_safety_info"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_safety_plan")
        dispatcher.utter_message(response="utter_delete_chat")
        dispatcher.utter_message(response="utter_hotlines")
        dispatcher.utter_message(response="utter_code_word_offer")
        return []


class ActionQuickExit(Action):
    """A phrased quick exit ("delete all this"): the neutral cover text; the tracker store then
    erases the conversation instead of saving this turn (bot.rasa_adapters.tracker_store). It also
    ends an active form (the report form), so no question follows the cover text."""

    def name(self) -> Text:
        return "action_quick_exit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_cover")
        return [ActiveLoop(None)] if tracker.active_loop_name else []
