"""Haven's responses rendered inside the Rasa process (a Rasa adapter).

endpoints.yml names this class (`nlg: type: bot.rasa_adapters.nlg.InProcessNLG`). It renders
exactly what the action server's `/nlg` route renders (bot.nlg.render_request, same request
shape), without an HTTP round trip per response, the JSON of the whole tracker each way, and the
action server's share of the CPU (profiled: 8% of the Rasa process per turn was the /nlg call).
The request carries only what rendering reads: the slots and her conversation's bot messages.
The `/nlg` route stays on the action server for a deployment that prefers the callback
(`nlg: url: ...`, Rasa's documented protocol).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.nlg import render_request


def request_body(utter_action: Text, tracker: DialogueStateTracker, output_channel: Text, **kwargs: Any) -> dict[str, Any]:
    """The NLG request as Rasa's callback sends it, reduced to what rendering reads."""
    kwargs.pop("domain_responses", None)
    kwargs.pop("response_id", None)
    return {
        "response": utter_action,
        "id": None,
        "arguments": kwargs,
        "tracker": {
            "sender_id": tracker.sender_id,
            "slots": tracker.current_slot_values(),
            "events": [e.as_dict() for e in tracker.events if isinstance(e, BotUttered)],
        },
        "channel": {"name": output_channel},
    }


class InProcessNLG(NaturalLanguageGenerator):
    """Render from locales/ in this process (see the module docstring)."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, domain: Optional[Domain] = None, **_: Any) -> None:
        from bot import i18n

        i18n.catalog()  # load and validate the locales at start-up, not on the first message

    async def generate(
        self, utter_action: Text, tracker: DialogueStateTracker, output_channel: Text, **kwargs: Any
    ) -> Optional[Dict[Text, Any]]:
        return render_request(request_body(utter_action, tracker, output_channel, **kwargs))
