"""`make eval`: intent precision/recall/F1 per language on the held-out split (tests/nlu/<lang>/),
and the danger decision on it and on the independent challenge set (tests/nlu/danger/).

The whole NLU pipeline is evaluated as it runs in production, danger decision included. Prints a
table per language, macro-F1, the most frequent confusion pairs, danger recall and precision with
95% intervals at the operating thresholds (and before: lexicon or argmax), the danger misses, and
writes a JSON report and a precision/recall curve per language (results/danger-pr-<lang>.png).
Cross-validated macro-F1 and the choice of thresholds: bot/eval_cv.py (`make eval-cv`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, cast

from bot.settings import ROOT, SUPPORTED_LANGUAGES

TEST_DIR = ROOT / "tests" / "nlu"
DANGER_DIR = TEST_DIR / "danger"  # the independent danger challenge set, one file per language
RESULTS_DIR = ROOT / "results"
MACRO_F1_TARGET = 0.95
DANGER_RECALL_TARGET = 1.0
DANGER_PRECISION_TARGET = 0.85


@dataclass
class Example:
    text: str
    intent: str


def load_split(language: str, folder: Path = TEST_DIR) -> list[Example]:
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for path in sorted((folder / language).glob("*.yml")):
        data = load_data(str(path))
        examples += [Example(m.get("text"), m.get("intent")) for m in data.intent_examples]
    return examples


def score(gold: list[str], pred: list[str]) -> dict[str, Any]:
    """Per-intent precision/recall/F1, macro-F1 and confusion pairs (scikit-learn)."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted(set(gold))
    p, r, f, support = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    per_intent = {
        label: {"precision": round(float(p[i]), 3), "recall": round(float(r[i]), 3), "f1": round(float(f[i]), 3),
                "support": int(support[i])}
        for i, label in enumerate(labels)
    }
    confusions = Counter((g, q) for g, q in zip(gold, pred) if g != q)
    return {
        "examples": len(gold),
        "accuracy": round(sum(g == q for g, q in zip(gold, pred)) / max(1, len(gold)), 3),
        "macro_f1": round(float(sum(f) / max(1, len(f))), 3),
        "immediate_danger_recall": per_intent.get("immediate_danger", {}).get("recall"),
        "per_intent": per_intent,
        "confusions": [{"gold": g, "predicted": q, "count": n} for (g, q), n in confusions.most_common(15)],
    }


async def _parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa's parse events carry the texts at DEBUG
    logging.getLogger("rasa").setLevel(logging.WARNING)

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def predict_records(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    """Per message: the pipeline's intent and the danger record (P(immediate_danger), level, ...)."""
    records = []
    for parsed in asyncio.run(_parse_all(model, texts)):
        record = dict(parsed.get("danger") or {})
        record["intent"] = (parsed.get("intent") or {}).get("name") or "None"
        records.append(record)
    return records


def answered_intent(record: dict[str, Any]) -> str:
    """The intent as answered: a triage turn answers her original intent; third-party danger is danger."""
    from bot.safety import danger

    intent = record["intent"]
    if intent == danger.TRIAGE_INTENT:
        return cast(str, record.get("original_intent") or intent)
    return danger.DANGER_INTENT if intent == danger.THIRD_PARTY_INTENT else intent


def load_file(path: Path) -> list[Example]:
    from rasa.shared.nlu.training_data.loading import load_data

    if not path.is_file():
        return []
    return [Example(m.get("text"), m.get("intent")) for m in load_data(str(path)).intent_examples]


def _sets(languages: tuple[str, ...]) -> dict[str, dict[str, list[Example]]]:
    return {
        "held-out": {lang: load_split(lang) for lang in languages},
        "challenge": {lang: load_file(DANGER_DIR / f"{lang}.yml") for lang in languages},
    }


def evaluate(model: Optional[Path] = None, languages: tuple[str, ...] = SUPPORTED_LANGUAGES) -> dict[str, Any]:
    from bot import danger_eval
    from bot.model import MODEL_PATH
    from bot.safety import danger

    model = model or MODEL_PATH
    sets = _sets(languages)
    flat = [(name, lang, e) for name, by_lang in sets.items() for lang in languages for e in by_lang[lang]]
    started = time.monotonic()
    records = predict_records(model, [e.text for _, _, e in flat])
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {name: {lang: [] for lang in languages} for name in sets}
    for (name, lang, e), record in zip(flat, records):
        rows[name][lang].append({**record, "text": e.text, "gold": e.intent, "language": lang})
    limits = danger.thresholds()
    report: dict[str, Any] = {"model": str(model), "thresholds": limits.__dict__, "languages": {}, "danger": {},
                              "challenge_intents": {}}
    for lang in languages:
        held = rows["held-out"][lang]
        gold = [r["gold"] for r in held]
        pred = [answered_intent(r) for r in held]
        result = score(gold, pred)
        result["errors"] = [
            {"intent": g, "predicted": q, "length": len(r["text"])} for r, g, q in zip(held, gold, pred) if g != q
        ][:50]
        report["languages"][lang] = result
        challenge = rows["challenge"][lang]
        report["challenge_intents"][lang] = {
            k: v for k, v in score([r["gold"] for r in challenge], [answered_intent(r) for r in challenge]).items()
            if k in ("examples", "accuracy", "macro_f1")
        }
        report["danger"][lang] = {
            name: {"operating": danger_eval.danger_metrics(rows[name][lang], limits),
                   "before": danger_eval.baseline_metrics(rows[name][lang])}
            for name in sets
        }
        danger_eval.plot_curves({n: rows[n][lang] for n in sets}, lang, limits, RESULTS_DIR / f"danger-pr-{lang}.png")
    report["seconds"] = round(time.monotonic() - started, 1)
    report["targets"] = {"macro_f1": MACRO_F1_TARGET, "danger_recall": DANGER_RECALL_TARGET,
                         "danger_precision": DANGER_PRECISION_TARGET}
    report["meets_targets"] = all(
        report["languages"][lang]["macro_f1"] >= MACRO_F1_TARGET
        and all((m["operating"]["recall"]["value"] or 0) >= DANGER_RECALL_TARGET
                and (m["operating"]["precision"]["value"] or 0) >= DANGER_PRECISION_TARGET
                for m in report["danger"][lang].values() if m["operating"]["danger_examples"])
        for lang in languages
    )
    return report


def print_report(report: dict[str, Any]) -> None:
    from bot.danger_eval import format_line

    for lang, r in report["languages"].items():
        print(f"\n== {lang}: {r['examples']} held-out examples, accuracy {r['accuracy']:.3f}, "
              f"macro-F1 {r['macro_f1']:.3f}")
        print(f"   {'intent':<20} {'prec':>6} {'rec':>6} {'f1':>6} {'n':>4}")
        for intent, m in r["per_intent"].items():
            print(f"   {intent:<20} {m['precision']:>6.2f} {m['recall']:>6.2f} {m['f1']:>6.2f} {m['support']:>4}")
        if r["confusions"]:
            pairs = ", ".join(f"{c['gold']}->{c['predicted']} x{c['count']}" for c in r["confusions"][:6])
            print(f"   top confusions: {pairs}")
    print(f"\n== danger decision at the operating thresholds {report['thresholds']} (95% Wilson intervals)")
    for lang, sets in report["danger"].items():
        for name, m in sets.items():
            print(f"   {lang} {name:<9} now:    {format_line(m['operating'])}")
            print(f"   {lang} {name:<9} before: {format_line(m['before'])}")
    print("\n== danger misses (not decided danger; level shows whether a triage turn still gave the number first)")
    for lang, sets in report["danger"].items():
        for name, m in sets.items():
            for miss in m["operating"]["misses"]:
                print(f"   {lang} {name:<9} [{miss['level']:<6} p={miss['p']:.3f} top={miss['model_top']}] {miss['text']}")
    summary = "  ".join(f"{lang}={r['macro_f1']:.3f}" for lang, r in report["languages"].items())
    challenge = "  ".join(f"{lang}={r['macro_f1']:.3f}" for lang, r in report["challenge_intents"].items())
    print(f"\nmacro-F1 held-out: {summary}   (target >= {MACRO_F1_TARGET})")
    print(f"macro-F1 on the danger challenge set (intents it covers): {challenge}")
    print(f"precision/recall curves: {RESULTS_DIR.relative_to(ROOT)}/danger-pr-<lang>.png")
    print("meets targets" if report["meets_targets"] else "BELOW TARGET")


def main(report: str = "results/nlu-eval.json", model: Optional[str] = None) -> int:
    result = evaluate(Path(model) if model else None)
    print_report(result)
    path = ROOT / report
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"report: {path.relative_to(ROOT)}")
    return 0 if result["meets_targets"] else 1
