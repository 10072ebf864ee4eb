"""Danger metrics for `make eval` / `make eval-cv`: recall and precision with 95% Wilson intervals,
precision/recall curves (PNG), the list of misses, and the choice of thresholds on validation rows.

A row is one parsed message: {text, gold, language, p_danger (P(immediate_danger) from the model),
model_top, ...}. The decision is recomputed from the row with bot.safety.danger.decide, so the same
rows serve every candidate threshold. Only training-data rows (cross-validation) choose thresholds.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from bot.safety import danger
from bot.settings import ROOT, SUPPORTED_LANGUAGES

PRECISION_BUDGET = 0.05  # danger precision the danger threshold may give up for recall (validation)
TRIAGE_FLOOR = 0.01  # never triage below this probability (every message would be asked)
PRECISION_TARGET = 0.85  # the danger threshold's pooled validation precision reaches this where it can
TRIAGE_BUDGET = 0.10  # at most this share of validation non-danger messages get the triage question
GRID = tuple(round(0.005 * i, 3) for i in range(1, 200))


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[Optional[float], Optional[float]]:
    """95% Wilson score interval for a proportion (None, None when n == 0)."""
    if n == 0:
        return None, None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def decide_row(row: dict[str, Any], limits: danger.Thresholds) -> danger.Decision:
    known = row.get("_signals")
    if known is None:  # computed once per row: the sweeps below decide the same rows many times
        known = row["_signals"] = danger.signals(row["text"]) if row.get("text") else (False, False)
    p_intent = row.get("p_intent")
    return danger.decide(row["text"], float(row.get("probability") or 0.0), row.get("model_top"), limits, known,
                         None if p_intent is None else float(p_intent))


def _rate(k: int, n: int) -> dict[str, Any]:
    low, high = wilson(k, n)
    return {"value": round(k / n, 3) if n else None, "k": k, "n": n, "ci95": [low, high]}


def danger_metrics(rows: list[dict[str, Any]], limits: danger.Thresholds) -> dict[str, Any]:
    """Danger recall/precision (danger level), number-first recall (danger or triage), misses."""
    decisions = [decide_row(r, limits) for r in rows]
    gold = [r["gold"] == danger.DANGER_INTENT for r in rows]
    tp = sum(g and d.is_danger for g, d in zip(gold, decisions))
    flagged = sum(d.is_danger for d in decisions)
    first = sum(g and d.number_first for g, d in zip(gold, decisions))
    triaged_safe = sum((not g) and d.level is danger.Level.TRIAGE for g, d in zip(gold, decisions))
    misses = [
        {"text": r["text"], "level": d.level.value, "p": round(float(r.get("probability") or 0.0), 3),
         "model_top": r.get("model_top")}
        for r, g, d in zip(rows, gold, decisions) if g and not d.is_danger
    ]
    false_alarms = [
        {"text": r["text"], "gold": r["gold"], "reason": d.reason}
        for r, g, d in zip(rows, gold, decisions) if d.is_danger and not g
    ]
    return {
        "danger_examples": sum(gold),
        "examples": len(rows),
        "recall": _rate(tp, sum(gold)),
        "precision": _rate(tp, flagged),
        "number_first_recall": _rate(first, sum(gold)),
        "triaged_non_danger": _rate(triaged_safe, len(rows) - sum(gold)),
        "misses": misses,
        "false_alarms": false_alarms,
    }


def baseline_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The decision before this change: the lexicon, or the pipeline's intent (argmax) is danger."""
    as_before = [{**r, "probability": 0.0, "model_top": r.get("model_intent")} for r in rows]
    for before, row in zip(as_before, rows):
        decide_row(row, danger.Thresholds())
        before["_signals"] = row["_signals"]
    return danger_metrics(as_before, danger.Thresholds(danger=1.0, triage=1.0, third_party=1.0))


def _curve(rows: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Recall and precision of the danger decision as the danger threshold sweeps the grid."""
    recalls, precisions = [], []
    for t in GRID:
        limits = danger.Thresholds(danger=t, triage=0.0, third_party=t)
        m = danger_metrics(rows, limits)
        recalls.append(m["recall"]["value"] or 0.0)
        precisions.append(m["precision"]["value"] or 1.0)
    return recalls, precisions


def plot_curves(curves: dict[str, list[dict[str, Any]]], language: str, limits: danger.Thresholds, path: Path) -> None:
    """One PNG per language: a precision/recall curve per evaluation set, operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for name, rows in curves.items():
        if not any(r["gold"] == danger.DANGER_INTENT for r in rows):
            continue
        recalls, precisions = _curve(rows)
        line, = ax.plot(recalls, precisions, label=name)
        op = danger_metrics(rows, limits)
        ax.scatter([op["recall"]["value"]], [op["precision"]["value"] or 1.0], color=line.get_color(), zorder=3)
    ax.set_xlabel("danger recall")
    ax.set_ylabel("danger precision")
    ax.set_xlim(0.5, 1.01)
    ax.set_ylim(0.5, 1.01)
    ax.grid(alpha=0.3)
    ax.set_title(f"{language}: danger decision, P threshold swept (dot: {limits.danger})", fontsize=10)
    ax.legend(loc="lower left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _by_language(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["language"], []).append(row)
    return out


def choose_thresholds(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Thresholds chosen on validation rows only (out-of-fold predictions over training data).

    danger: the smallest grid value (most recall) whose pooled danger precision stays within
    PRECISION_BUDGET of the precision at P >= 0.5 (where the model is sure: about the argmax) and
    reaches PRECISION_TARGET (without that target where no value <= 0.95 reaches it);
    triage: the largest value <= danger that gets the number first to as many validation danger
    messages as TRIAGE_FLOOR does (recall first, fewest questions to everyone else), raised to the
    smallest value that asks at most TRIAGE_BUDGET of the non-danger messages if it asks more;
    third_party: the danger rule on the messages that name someone else (never above danger).
    """
    langs = _by_language(rows)

    def precision(t: float, subset: list[dict[str, Any]]) -> float:
        m = danger_metrics(subset, danger.Thresholds(danger=t, triage=0.0, third_party=1.0))
        return m["precision"]["value"] if m["precision"]["value"] is not None else 1.0

    def lowest_within_budget(subset: list[dict[str, Any]], ceiling: float = 1.0, target: float = 0.0) -> float:
        reference = precision(0.5, subset) - PRECISION_BUDGET
        return min([t for t in GRID if t <= ceiling and precision(t, subset) >= max(reference, target)],
                   default=ceiling)

    dangerous = lowest_within_budget(rows, 0.5)
    if max(precision(t, rows) for t in GRID if t <= 0.95) >= PRECISION_TARGET:
        dangerous = lowest_within_budget(rows, 0.95, PRECISION_TARGET)

    def number_first(t: float) -> int:
        limits = danger.Thresholds(danger=dangerous, triage=t, third_party=dangerous)
        return sum(danger_metrics(r, limits)["number_first_recall"]["k"] for r in langs.values())

    def asked(t: float) -> float:
        limits = danger.Thresholds(danger=dangerous, triage=t, third_party=dangerous)
        return danger_metrics(rows, limits)["triaged_non_danger"]["value"] or 0.0

    best = number_first(TRIAGE_FLOOR)
    triage = max([t for t in GRID if TRIAGE_FLOOR <= t <= dangerous and number_first(t) >= best], default=TRIAGE_FLOOR)
    if asked(triage) > TRIAGE_BUDGET:
        triage = min([t for t in GRID if triage <= t <= dangerous and asked(t) <= TRIAGE_BUDGET], default=dangerous)
    others = [r for r in rows if decide_row(r, danger.Thresholds()) and r["_signals"][1]]
    third = dangerous  # no validation evidence for a lower third-party threshold: keep the danger one
    if any(r["gold"] == danger.DANGER_INTENT for r in others):
        third = lowest_within_budget(others, dangerous)
    return {"danger": dangerous, "triage": min(triage, dangerous), "third_party": third}


def _kept_floor(path: Path) -> Optional[tuple[float, Any]]:
    """The DIET triage floor already in the thresholds file and its provenance (kept on rewrite)."""
    if not path.is_file():
        return None
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    value = (doc.get("thresholds") or {}).get("intent_triage")
    return None if value is None else (float(value), doc.get("intent_triage_chosen_on"))


def choose_and_report(results: list[dict[str, Any]], write: bool = False, path: Optional[Path] = None,
                      what: Optional[str] = None) -> dict[str, Any]:
    """Choose thresholds on the folds' rows, print validation figures, optionally write the data file.

    `what` describes the rows in the file (default: `make eval-cv`'s out-of-fold pipeline parses).
    """
    rows = [row for result in results for row in result["rows"]]
    if not rows:
        return {}
    chosen = choose_thresholds(rows)
    limits = danger.Thresholds(**chosen)
    figures: dict[str, Any] = {}
    print(f"\nthresholds chosen on {len(rows)} out-of-fold training examples: {chosen}")
    for lang, lang_rows in sorted(_by_language(rows).items()):
        m = danger_metrics(lang_rows, limits)
        figures[lang] = {k: m[k]["value"] for k in ("recall", "precision", "number_first_recall", "triaged_non_danger")}
        print(f"  {lang} validation: {format_line(m)}")
    if write:
        path = path or danger.THRESHOLDS_PATH
        folds = sorted(r["fold"] for r in results)
        kept = _kept_floor(path)
        doc = {
            "thresholds": {**chosen, **({"intent_triage": kept[0]} if kept else {})},
            "chosen_on": {
                "what": what or (f"out-of-fold predictions of folds {folds} of a {results[0]['folds']}-fold CV "
                                 "over nlu/ (training data only; bot/danger_eval.py:choose_thresholds)"),
                "examples": len(rows),
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "validation": figures,
            },
            **({"intent_triage_chosen_on": kept[1]} if kept else {}),
        }
        header = ("# Written by `python -m bot.eval_cv --write-thresholds` or `python -m bot.danger_model_cv "
                  "--write-thresholds`;\n# read by bot/safety/danger.py.\n")
        path.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        print(f"thresholds written: {path.relative_to(ROOT)}")
    return chosen


def format_line(m: dict[str, Any]) -> str:
    """'recall 0.98 [0.93, 0.99] (49/50)  precision ...' for one language."""
    def part(name: str, r: dict[str, Any]) -> str:
        if r["value"] is None:
            return f"{name} n/a"
        return f"{name} {r['value']:.3f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}] ({r['k']}/{r['n']})"
    return "  ".join([
        part("recall", m["recall"]), part("precision", m["precision"]),
        part("number-first", m["number_first_recall"]), part("triage-on-safe", m["triaged_non_danger"]),
    ])


def languages_present(rows: list[dict[str, Any]]) -> list[str]:
    return [lang for lang in SUPPORTED_LANGUAGES if any(r["language"] == lang for r in rows)]
