"""`make eval`: intent precision/recall/F1 per language on the held-out split (tests/nlu/<lang>/).

The whole NLU pipeline is evaluated as it runs in production, danger backstop included. Prints a
table per language, macro-F1, immediate_danger recall and the most frequent confusion pairs, and
writes a JSON report.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from bot.settings import ROOT, SUPPORTED_LANGUAGES

TEST_DIR = ROOT / "tests" / "nlu"
MACRO_F1_TARGET = 0.90
DANGER_RECALL_TARGET = 1.0


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


async def _predict(model: Path, texts: list[str]) -> list[str]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    out = []
    for text in texts:
        parsed = await agent.parse_message(text)
        out.append((parsed.get("intent") or {}).get("name") or "None")
    return out


def evaluate(model: Optional[Path] = None, languages: tuple[str, ...] = SUPPORTED_LANGUAGES) -> dict[str, Any]:
    from bot.model import MODEL_PATH

    model = model or MODEL_PATH
    splits = {lang: load_split(lang) for lang in languages}
    texts = [e.text for lang in languages for e in splits[lang]]
    started = time.monotonic()
    predictions = asyncio.run(_predict(model, texts))
    report: dict[str, Any] = {"model": str(model), "languages": {}}
    offset = 0
    for lang in languages:
        n = len(splits[lang])
        gold = [e.intent for e in splits[lang]]
        pred = predictions[offset : offset + n]
        offset += n
        result = score(gold, pred)
        result["errors"] = [
            {"intent": e.intent, "predicted": q, "length": len(e.text)}
            for e, q in zip(splits[lang], pred) if e.intent != q
        ][:50]
        report["languages"][lang] = result
    report["seconds"] = round(time.monotonic() - started, 1)
    report["targets"] = {"macro_f1": MACRO_F1_TARGET, "immediate_danger_recall": DANGER_RECALL_TARGET}
    report["meets_targets"] = all(
        r["macro_f1"] >= MACRO_F1_TARGET and (r["immediate_danger_recall"] or 0) >= DANGER_RECALL_TARGET
        for r in report["languages"].values()
    )
    return report


def print_report(report: dict[str, Any]) -> None:
    for lang, r in report["languages"].items():
        print(f"\n== {lang}: {r['examples']} held-out examples, accuracy {r['accuracy']:.3f}, "
              f"macro-F1 {r['macro_f1']:.3f}, immediate_danger recall {r['immediate_danger_recall']}")
        print(f"   {'intent':<20} {'prec':>6} {'rec':>6} {'f1':>6} {'n':>4}")
        for intent, m in r["per_intent"].items():
            print(f"   {intent:<20} {m['precision']:>6.2f} {m['recall']:>6.2f} {m['f1']:>6.2f} {m['support']:>4}")
        if r["confusions"]:
            pairs = ", ".join(f"{c['gold']}->{c['predicted']} x{c['count']}" for c in r["confusions"][:6])
            print(f"   top confusions: {pairs}")
    summary = "  ".join(f"{lang}={r['macro_f1']:.3f}" for lang, r in report["languages"].items())
    print(f"\nmacro-F1: {summary}   (target >= {MACRO_F1_TARGET}; danger recall target {DANGER_RECALL_TARGET})")
    print("meets targets" if report["meets_targets"] else "BELOW TARGET")


def main(report: str = "results/nlu-eval.json", model: Optional[str] = None) -> int:
    result = evaluate(Path(model) if model else None)
    print_report(result)
    path = ROOT / report
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"report: {path.relative_to(ROOT)}")
    return 0 if result["meets_targets"] else 1
