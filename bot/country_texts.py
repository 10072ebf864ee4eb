"""Which text to send for what Haven knows about her country (used by the /nlg endpoint).

A response that gives numbers has variants in locales/<lang>/country.yml: her country's line
(called confidential only where the source says so), only the emergency number when no support
line is verified, and, when her country is unknown, the emergency numbers of the countries the
deployment serves in one line plus the country question with one tap per country. No text
presents one country's number as hers unless her country is known.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from bot import countries, i18n

COUNTRY_QUESTION = "utter_country_question"
DANGER_QUESTION = "utter_country_question_danger"
CHOOSE_COUNTRY = "/choose_country"
LOCAL_EMERGENCY = "country_local_emergency"  # "the local emergency number"
NUMBER_ARGS = ("emergency_number", "hotline_number")
# Texts (handoff notices, service finder) that offer her country's support line: without a
# verified line they say what there is instead.
NO_LINE = {
    "utter_handoff_no_officer": "country_handoff_no_officer_no_line",
    "utter_handoff_long_wait": "country_handoff_long_wait_no_line",
    "utter_handoff_failed": "country_handoff_failed_no_line",
    "utter_services_hotline_247": "country_services_hotline_247_no_line",
    "utter_services_nothing_near": "country_services_nothing_near_no_line",
    "utter_services_empty": "country_services_empty_no_line",
    "utter_services_unavailable": "country_services_unavailable_no_line",
    "utter_services_no_more": "country_services_no_more_no_line",
}


def country_buttons(language: str) -> list[dict[str, str]]:
    """One button per served country (her language's countries first)."""
    return [
        {"title": countries.name(code, language), "payload": CHOOSE_COUNTRY + json.dumps({"country": code})}
        for code in countries.listed(language)
    ]


def _variant(name: str, known: countries.Known, arguments: Mapping[str, Any]) -> str:
    """The response to render instead of `name` (or `name` itself)."""
    entry = known.entry
    line = bool(entry.get("gbv_hotline"))
    emergency = bool(entry.get("emergency") or entry.get("police"))
    confidential = line and entry.get("gbv_confidential") is True
    if known.code is None:
        return {
            "utter_emergency": "country_emergency_multi" if countries.emergency_list("en") else name,
            "utter_danger_followup": DANGER_QUESTION,
            "utter_hotlines": "country_hotlines_multi",
            "utter_helper_support": "country_helper_unknown",
            "utter_reporting_info": "country_reporting_general",
            "utter_country_set": COUNTRY_QUESTION,
        }.get(name, name)
    given_line = arguments.get("hotline_number")
    if name in NO_LINE and not line and not given_line:
        return NO_LINE[name]
    if name == "utter_services_hotline_247" and given_line in (None, entry.get("gbv_hotline")) and not confidential:
        return "country_services_hotline_247_line"  # her country's line, not known to be confidential
    if name == "utter_emergency" and not emergency:
        return "country_emergency_local"
    if name == "utter_danger_followup":
        if line:
            return "country_danger_followup_confidential" if confidential else "country_danger_followup_line"
        return "country_danger_followup_no_line" if emergency else "country_danger_followup_chat"
    if name == "utter_hotlines":
        if not emergency:
            return "country_hotlines_line_only" if line else "country_hotlines_none"
        return "country_hotlines_confidential" if confidential else "country_hotlines_line" if line else "country_hotlines_emergency"
    if name == "utter_helper_support":
        return "country_helper_line" if line else "country_helper_no_line"
    if name == "utter_reporting_info":
        if entry.get("unit") and entry.get("report_online"):
            return "country_reporting_unit_online"
        if entry.get("report_online"):
            return "country_reporting_online"
        return "country_reporting_unit" if entry.get("unit") else "country_reporting_general"
    return name


def _args(known: countries.Known, language: str) -> dict[str, str]:
    args = countries.numbers(known.code, language)
    if known.code is None:
        # Any other text that needs a number: the served countries' numbers, each with its country.
        args["emergency_list"] = countries.emergency_list(language)
        lines = {c: str((countries.get(c) or {}).get("gbv_hotline") or "") for c in countries.served()}
        hotlines = [c for c, number in lines.items() if number]
        hotline_list = " · ".join(f"{countries.name(c, language)} {lines[c]}" for c in countries.listed(language, hotlines))
        args["emergency_number"] = args["emergency_list"]
        args["hotline_number"] = hotline_list or args["emergency_list"]
    if not args["emergency_number"]:
        args["emergency_number"] = i18n.text(LOCAL_EMERGENCY, language)
    if not args["hotline_number"]:
        args["hotline_number"] = args["emergency_number"]
    return args


def numbers_for(code: Optional[str], language: str) -> dict[str, str]:
    """Template numbers for a text outside the NLG path: hers, or the served countries' list."""
    return _args(countries.resolve(code), language)


def choose(
    name: str, slots: Mapping[str, Any], language: str, arguments: Optional[Mapping[str, Any]] = None
) -> tuple[str, dict[str, Any], list[dict[str, str]]]:
    """(response to render, template arguments, extra leading buttons) for her country.
    Explicit arguments win, except an empty number (the caller had none): ours is used."""
    given = {k: v for k, v in (arguments or {}).items() if v is not None and not (k in NUMBER_ARGS and v == "")}
    known = countries.resolve(slots.get("country"), slots.get("country_source"))
    chosen = _variant(name, known, given)
    buttons = country_buttons(language) if chosen in (DANGER_QUESTION, COUNTRY_QUESTION, "country_hotlines_multi", "country_helper_unknown") else []
    args: dict[str, Any] = dict(_args(known, language))
    args.update(given)
    return chosen, args, buttons


def render(name: str, slots: Mapping[str, Any], language: str, channel: Optional[str], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Render `name` (or its country variant) with her country's numbers and any country buttons."""
    chosen, args, extra = choose(name, slots, language, arguments)
    reply = i18n.render(chosen, language, channel, **args)
    if extra:
        reply["buttons"] = extra + list(reply.get("buttons") or [])
    return reply
