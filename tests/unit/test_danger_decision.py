"""The recall-first danger decision: one module, used by the NLU component and the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.safety import danger
from bot.safety.danger import Level, Thresholds

LIMITS = Thresholds(danger=0.3, triage=0.1, third_party=0.2)


@pytest.mark.parametrize(
    "text,p,level,subject,reason",
    [
        ("HE HAS A KNIFE!!", 0.0, Level.DANGER, "self", "lexicon"),  # lexicon wins over the model
        ("he has a knife", None, Level.DANGER, "self", "lexicon"),  # no model at all (live chat)
        ("my neighbour is being beaten right now", 0.0, Level.DANGER, "other", "lexicon"),
        ("please he is back and shouting", 0.35, Level.DANGER, "self", "model"),
        ("please he is back and shouting", 0.30, Level.DANGER, "self", "model"),  # at the threshold
        ("my sister and her husband again tonight", 0.25, Level.DANGER, "other", "third_party"),
        ("my sister and her husband again tonight", 0.15, Level.TRIAGE, "other", "model"),
        ("he took my salary again", 0.12, Level.TRIAGE, "self", "model"),
        ("he took my salary again", 0.05, Level.NONE, "self", "none"),
        ("he took my salary again", None, Level.NONE, "self", "none"),
        ("/immediate_danger", 0.9, Level.NONE, "self", "none"),  # button payloads carry their intent
    ],
)
def test_decide(text: str, p: Any, level: Level, subject: str, reason: str) -> None:
    decision = danger.decide(text, p, limits=LIMITS)
    assert (decision.level, decision.subject, decision.reason) == (level, subject, reason)


def test_no_triage_for_a_yes_or_no_but_clear_danger_still_counts() -> None:
    assert danger.decide("yes", 0.15, "affirm", LIMITS).level is Level.NONE
    assert danger.decide("no he is here", 0.5, "deny", LIMITS).is_danger
    assert danger.decide("he took it", 0.15, "disclose_abuse", LIMITS).level is Level.TRIAGE
    long_message = "ok so he locked the office and keeps touching me"  # not a short reply
    assert danger.decide(long_message, 0.15, "affirm", LIMITS).level is Level.TRIAGE


def test_a_bare_plea_for_help_is_asked_about_danger_whatever_the_model_p() -> None:
    for text in ("help", "HELP ME", "aidez-moi svp", "naomba msaada tafadhali"):
        decision = danger.decide(text, 0.0, "ask_help", LIMITS)
        assert (decision.level, decision.reason) == (Level.TRIAGE, "plea"), text
    # Saying what she needs is not a bare plea; without a model (live chat) no guess is made.
    assert danger.decide("can you help me find a lawyer", 0.0, "ask_help", LIMITS).level is Level.NONE
    assert danger.decide("help", None, "ask_help", LIMITS).level is Level.NONE
    assert danger.decide("help", 0.0, "greet", LIMITS).level is Level.NONE


def test_argmax_danger_is_danger_even_below_the_threshold() -> None:
    assert danger.decide("it is him again", 0.09, "immediate_danger", LIMITS).is_danger


def test_outcome_intents() -> None:
    assert danger.outcome_intent(danger.decide("he has a knife", limits=LIMITS), "find_service") == "immediate_danger"
    other = danger.decide("my neighbour is being beaten right now", limits=LIMITS)
    assert danger.outcome_intent(other, "helper_support") == "third_party_danger"
    triage = danger.decide("he took my salary again", 0.12, limits=LIMITS)
    assert danger.outcome_intent(triage, "disclose_abuse") == "danger_check"
    assert danger.outcome_intent(danger.decide("hello", 0.01, limits=LIMITS), "greet") == "greet"


def test_thresholds_file_is_read_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text("thresholds: {danger: 0.25, triage: 0.04, third_party: 0.1}\nchosen_on: {examples: 3}\n")
    assert danger.load_thresholds(path) == Thresholds(0.25, 0.04, 0.1)
    path.write_text("thresholds: {danger: 0.1, triage: 0.5}\n")
    with pytest.raises(ValueError):
        danger.load_thresholds(path)
    assert danger.load_thresholds(tmp_path / "missing.yml") == Thresholds()


def test_diets_own_probability_is_a_triage_floor_not_a_danger_reply(tmp_path: Path) -> None:
    """The classifier's P decides danger; DIET's P(immediate_danger) at its validated point still
    gives the number first (triage) where the classifier is unsure, and never the danger reply."""
    limits = Thresholds(danger=0.5, triage=0.1, third_party=0.3, intent_triage=0.2)
    text = "he took my salary again and he is drinking"
    assert danger.decide(text, 0.05, "disclose_abuse", limits, p_intent=0.25).level is Level.TRIAGE
    assert danger.decide(text, 0.05, "disclose_abuse", limits, p_intent=0.19).level is Level.NONE
    assert danger.decide(text, 0.05, "disclose_abuse", Thresholds(0.5, 0.1, 0.3), p_intent=0.25).level is Level.NONE  # no floor set
    assert danger.decide("ok thanks", 0.05, "thank", limits, p_intent=0.9).level is Level.NONE  # short reply: no question
    path = tmp_path / "t.yml"
    path.write_text("thresholds: {danger: 0.5, triage: 0.1, third_party: 0.3, intent_triage: 0.2}\n")
    assert danger.load_thresholds(path) == limits


def test_the_shipped_thresholds_load() -> None:
    limits = danger.load_thresholds()
    assert 0 < limits.triage <= limits.danger < 1


def test_component_applies_the_decision_and_keeps_her_intent(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.rasa_adapters.components import DangerBackstop

    monkeypatch.setattr(danger, "thresholds", lambda: LIMITS)
    unsure = Message({TEXT: "he took my salary again", INTENT: {"name": "disclose_abuse", "confidence": 0.6},
                      INTENT_RANKING_KEY: [{"name": "disclose_abuse", "confidence": 0.6},
                                           {"name": "immediate_danger", "confidence": 0.15}]})
    model_sure = Message({TEXT: "please he is back", INTENT: {"name": "ask_help", "confidence": 0.5},
                          INTENT_RANKING_KEY: [{"name": "ask_help", "confidence": 0.5},
                                               {"name": "immediate_danger", "confidence": 0.4}]})
    other = Message({TEXT: "my mum is being attacked now", INTENT: {"name": "helper_support", "confidence": 0.8},
                     INTENT_RANKING_KEY: [{"name": "helper_support", "confidence": 0.8}]})
    calm = Message({TEXT: "where is the clinic", INTENT: {"name": "find_service", "confidence": 0.97},
                    INTENT_RANKING_KEY: [{"name": "find_service", "confidence": 0.97},
                                         {"name": "immediate_danger", "confidence": 0.01}]})
    DangerBackstop().process([unsure, model_sure, other, calm])
    assert unsure.get(INTENT)["name"] == "danger_check"
    assert unsure.get("danger")["original_intent"] == "disclose_abuse"
    assert unsure.get(INTENT_RANKING_KEY)[0]["name"] == "danger_check"
    assert model_sure.get(INTENT) == {"name": "immediate_danger", "confidence": 1.0}
    assert model_sure.get("danger")["reason"] == "model" and model_sure.get("danger")["probability"] == 0.4
    assert other.get(INTENT)["name"] == "third_party_danger"
    assert calm.get(INTENT)["name"] == "find_service" and calm.get("danger")["level"] == "none"


def test_every_language_has_third_party_and_forced_marriage_phrases() -> None:
    from bot import i18n
    from bot.settings import SUPPORTED_LANGUAGES

    for lang in SUPPORTED_LANGUAGES:
        lex = i18n.catalog().lexicons[lang]
        assert len(lex.third_party) >= 10 and len(lex.forced_marriage) >= 5, lang


def test_wilson_interval() -> None:
    from bot.danger_eval import wilson

    assert wilson(0, 0) == (None, None)
    low, high = wilson(20, 20)
    assert high == 1.0 and 0.83 < low < 0.84  # 20/20 -> [0.839, 1.0]
    low, high = wilson(5, 10)
    assert low < 0.5 < high and round(low, 2) == 0.24


def test_thresholds_are_chosen_for_recall_on_validation_rows() -> None:
    from bot.danger_eval import choose_thresholds, danger_metrics

    rows = [{"text": f"message {i}", "gold": "immediate_danger", "probability": p, "model_top": "disclose_abuse",
             "language": "en"} for i, p in enumerate((0.9, 0.5, 0.08, 0.35))]
    rows += [{"text": f"other {i}", "gold": "disclose_abuse", "probability": p, "model_top": "disclose_abuse",
              "language": "en"} for i, p in enumerate((0.02, 0.04, 0.3, 0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))]
    chosen = choose_thresholds(rows)  # 1 of 10 non-danger rows triaged: within the triage budget
    # danger: the smallest value whose precision stays within 0.05 of the precision at 0.5 (1.0), so
    # above the 0.3 non-danger row; triage: the largest value that still gets every danger row the
    # number first; no third-party rows, so the danger threshold.
    assert chosen == {"danger": 0.305, "triage": 0.08, "third_party": 0.305}
    metrics = danger_metrics(rows, Thresholds(**chosen))
    assert metrics["number_first_recall"]["value"] == 1.0
    assert metrics["recall"]["k"] == 3 and metrics["precision"]["value"] == 1.0
    assert [m["text"] for m in metrics["misses"]] == ["message 2"]


def test_triage_threshold_is_raised_when_it_would_ask_too_many_safe_messages() -> None:
    from bot.danger_eval import TRIAGE_BUDGET, choose_thresholds, danger_metrics

    rows = [{"text": f"message {i}", "gold": "immediate_danger", "probability": p, "model_top": "disclose_abuse",
             "language": "en"} for i, p in enumerate((0.9, 0.8, 0.7, 0.03))]
    # 3 of 10 non-danger rows between 0.05 and 0.2: triaging the 0.03 danger row would ask them all
    rows += [{"text": f"other {i}", "gold": "disclose_abuse", "probability": p, "model_top": "disclose_abuse",
              "language": "en"} for i, p in enumerate((0.05, 0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))]
    chosen = choose_thresholds(rows)
    metrics = danger_metrics(rows, Thresholds(**chosen))
    assert metrics["triaged_non_danger"]["value"] <= TRIAGE_BUDGET
    assert chosen["triage"] == 0.105  # the smallest value that asks only the 0.2 row (1/10)
    assert metrics["number_first_recall"]["k"] == 3


def test_danger_threshold_reaches_the_precision_target_when_it_can() -> None:
    from bot.danger_eval import choose_thresholds, danger_metrics

    # precision at 0.5 is 0.75 (6/8): within the budget alone 0.405 would do (6/8 >= 0.70); the
    # target asks 0.85, first reached above the 0.52 non-danger row (6/7 = 0.857)
    rows = [{"text": f"message {i}", "gold": "immediate_danger", "probability": p, "model_top": "disclose_abuse",
             "language": "en"} for i, p in enumerate((0.95, 0.9, 0.8, 0.7, 0.6, 0.55))]
    rows += [{"text": f"other {i}", "gold": "disclose_abuse", "probability": p, "model_top": "disclose_abuse",
              "language": "en"} for i, p in enumerate((0.65, 0.52, 0.4, 0.0, 0.0, 0.0))]
    chosen = choose_thresholds(rows)
    assert chosen["danger"] == 0.525
    metrics = danger_metrics(rows, Thresholds(**chosen))
    assert metrics["precision"]["value"] == 0.857 and metrics["recall"]["value"] == 1.0
