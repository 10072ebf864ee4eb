"""The one danger decision (SAFETY.md guarantees 5 and 10), shared by the NLU component and the gate.

Recall first, not the intent argmax. A message is *danger* when the per-language lexicon fires,
when the model's danger probability (combined_probability: the dedicated binary classifier's P,
or DIET's P(immediate_danger) if higher) reaches the danger threshold, or when it names
someone else (the lexicon's `third_party:` list) and the probability reaches the lower third-party
threshold. Between the triage and the danger threshold it is *triage*: the emergency number first,
one short question, then her original request; DIET's own P(immediate_danger) at its validated
point (`intent_triage`) also gives a triage turn, a recall floor where the classifier is unsure.
Without a model (a live officer chat, where her
message never reaches Rasa) only the lexicon decides. The thresholds live in
data/danger_thresholds.yml with the validation figures that chose them (`haven eval-cv`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml

from bot import i18n
from bot.safety.lexicon import danger_match
from bot.settings import ROOT
from bot.text import contains_phrase, normalise

THRESHOLDS_PATH = ROOT / "data" / "danger_thresholds.yml"
DANGER_INTENT = "immediate_danger"
THIRD_PARTY_INTENT = "third_party_danger"
TRIAGE_INTENT = "danger_check"
PARSE_KEY = "danger"  # where the NLU component records the decision in parse data
CLASSIFIER_KEY = "danger_probability"  # P(danger) of the dedicated classifier (bot/danger_model.py)
# No triage question for short replies and small talk (a "yes" to the triage question must not be
# asked again); a longer message is asked whatever the model's top intent; clear danger (lexicon,
# or P at the danger threshold) applies to every message.
SHORT_REPLY_WORDS = 4
NO_TRIAGE = frozenset({
    "affirm", "deny", "greet", "goodbye", "thank", "bot_challenge", "choose_language", "quick_exit",
    "services_more", "services_pick", "services_map", TRIAGE_INTENT,
})
# A bare plea ("help", "help me please", "aidez-moi"): nothing says whether she is in danger now,
# so it is the unsure case of guarantee 10 whatever the model's P (the number first, then the
# question, then her request). Longer asks for help say what they need and are decided as usual.
PLEA_INTENT = "ask_help"
PLEA_WORDS = 3


class Level(str, enum.Enum):
    DANGER = "danger"
    TRIAGE = "triage"
    NONE = "none"


@dataclass(frozen=True)
class Thresholds:
    """Operating points on P(immediate_danger)."""

    danger: float = 0.2
    triage: float = 0.05
    third_party: float = 0.1
    # DIET's own P(immediate_danger) at or above this gives at least a triage turn (number first),
    # whatever the combined probability: DIET's validated danger point, kept as a recall floor.
    intent_triage: Optional[float] = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.triage <= self.danger <= 1.0 or not 0.0 <= self.third_party <= 1.0:
            raise ValueError("danger thresholds must satisfy 0 <= triage <= danger <= 1")


@dataclass(frozen=True)
class Decision:
    """What the danger decision found; `reason` is lexicon | model | third_party | none."""

    level: Level
    subject: str  # "self" or "other" (helper-phrased reply)
    reason: str
    probability: Optional[float]

    @property
    def is_danger(self) -> bool:
        return self.level is Level.DANGER

    @property
    def number_first(self) -> bool:
        """The emergency number goes out before anything else (danger or triage)."""
        return self.level is not Level.NONE

    def as_dict(self) -> dict[str, Any]:
        """Content-free summary for parse data, the transcript flag and evaluation."""
        p = None if self.probability is None else round(self.probability, 4)
        return {"level": self.level.value, "subject": self.subject, "reason": self.reason, "probability": p}


def load_thresholds(path: Path = THRESHOLDS_PATH) -> Thresholds:
    """The operating thresholds from the data file (defaults if the file is absent)."""
    if not path.is_file():
        return Thresholds()
    with path.open(encoding="utf-8") as fh:
        data = (yaml.safe_load(fh) or {}).get("thresholds") or {}
    return Thresholds(**{k: float(v) for k, v in data.items() if k in ("danger", "triage", "third_party", "intent_triage")})


@lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    """The process-wide thresholds (read once)."""
    return load_thresholds()


@lru_cache(maxsize=1)
def _third_party_phrases() -> tuple[str, ...]:
    phrases: set[str] = set()
    for lex in i18n.catalog().lexicons.values():
        phrases.update(lex.third_party)
    return tuple(sorted(phrases, key=len, reverse=True))


def names_someone_else(text: str) -> bool:
    """The message names someone else (a neighbour, a mother, a child) in any language."""
    return contains_phrase(normalise(text), _third_party_phrases())


def signals(text: str) -> tuple[bool, bool]:
    """(the danger lexicon fires, the message names someone else): the model-free part."""
    return danger_match(text) is not None, names_someone_else(text)


def decide(
    text: Optional[str],
    p_danger: Optional[float] = None,
    model_intent: Optional[str] = None,
    limits: Optional[Thresholds] = None,
    known: Optional[tuple[bool, bool]] = None,
    p_intent: Optional[float] = None,
) -> Decision:
    """Decide on one message; `p_danger` is the model's danger probability, None without a model.

    `known` passes signals(text) already computed (evaluation sweeps thresholds over the same rows).
    `p_intent` is DIET's own P(immediate_danger), for the triage floor (`Thresholds.intent_triage`).
    """
    limits = limits or thresholds()
    if not text or text.startswith("/"):  # button payloads carry their own intent
        return Decision(Level.NONE, "self", "none", p_danger)
    lexicon, other = known if known is not None else signals(text)
    subject = "other" if other else "self"
    if lexicon:
        return Decision(Level.DANGER, subject, "lexicon", p_danger)
    if p_danger is None:
        return Decision(Level.NONE, "self", "none", None)
    if p_danger >= limits.danger or model_intent == DANGER_INTENT:
        return Decision(Level.DANGER, subject, "model", p_danger)
    if other and p_danger >= limits.third_party:
        return Decision(Level.DANGER, "other", "third_party", p_danger)
    if model_intent == PLEA_INTENT and len(text.split()) <= PLEA_WORDS:
        return Decision(Level.TRIAGE, subject, "plea", p_danger)
    floor = limits.intent_triage is not None and p_intent is not None and p_intent >= limits.intent_triage
    if (p_danger >= limits.triage or floor) and not (model_intent in NO_TRIAGE and len(text.split()) <= SHORT_REPLY_WORDS):
        return Decision(Level.TRIAGE, subject, "model", p_danger)
    return Decision(Level.NONE, "self", "none", p_danger)


def danger_probability(ranking: Optional[list[dict[str, Any]]], intent: Optional[dict[str, Any]] = None) -> float:
    """P(immediate_danger) from an intent ranking (0.0 when the model did not rank it)."""
    for item in ranking or []:
        if item.get("name") == DANGER_INTENT:
            return float(item.get("confidence") or 0.0)
    if intent and intent.get("name") == DANGER_INTENT:
        return float(intent.get("confidence") or 0.0)
    return 0.0


def combined_probability(p_intent: Optional[float], p_classifier: Optional[float]) -> Optional[float]:
    """The probability the thresholds apply to: max(dedicated classifier's P, DIET's P(immediate_danger)).

    The classifier generalises to unseen wording where DIET's many-way softmax gives ~0; DIET's P can
    only add recall on wording it knows. Without the classifier (an older model) DIET's P alone.
    """
    known = [p for p in (p_intent, p_classifier) if p is not None]
    return max(known) if known else None


def outcome_intent(decision: Decision, original: Optional[str]) -> Optional[str]:
    """The intent the dialogue sees after the decision (triage keeps hers in parse data)."""
    if decision.is_danger:
        return THIRD_PARTY_INTENT if decision.subject == "other" else DANGER_INTENT
    if decision.level is Level.TRIAGE:
        return TRIAGE_INTENT
    return original
