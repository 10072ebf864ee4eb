"""Her country: the answer to the country question, remembered in the `country` slot."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import chosen_country


class ActionChooseCountry(Action):
    """Confirm the country she chose (action_read_context has set it) and give its numbers, or ask."""

    def name(self) -> Text:
        return "action_choose_country"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if chosen_country(tracker):
            dispatcher.utter_message(response="utter_country_set")
            dispatcher.utter_message(response="utter_hotlines")
        else:
            dispatcher.utter_message(response="utter_country_question")
        return []
