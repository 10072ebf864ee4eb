"""`make eval-cv`: 5-fold cross-validation of the NLU pipeline over the TRAINING data (nlu/<lang>/).

Each fold trains the real pipeline (config.yml, NLU only) on four fifths of every language's
examples, stratified by language and intent, and parses the fifth. The out-of-fold predictions
give macro-F1 per language (so a score is not one lucky split) and are the validation set on
which the danger thresholds are chosen (`--write-thresholds`); tests/ is never read here.
Finished folds are kept under results/cv/ and reused, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from bot.settings import ROOT, SUPPORTED_LANGUAGES

CV_DIR = ROOT / "results" / "cv"
SEED = 7


def training_examples(languages: tuple[str, ...] = SUPPORTED_LANGUAGES) -> tuple[list[Any], list[str]]:
    """Every intent example of nlu/<lang>/ and its language."""
    from rasa.shared.nlu.training_data.loading import load_data

    messages: list[Any] = []
    langs: list[str] = []
    for lang in languages:
        data = load_data(str(ROOT / "nlu" / lang))
        messages += data.intent_examples
        langs += [lang] * len(data.intent_examples)
    return messages, langs


def fold_indices(labels: list[str], folds: int, seed: int = SEED) -> list[list[int]]:
    """Test indices of each fold, stratified by label (language:intent)."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [sorted(int(i) for i in test) for _, test in splitter.split(np.zeros(len(labels)), labels)]


def _write_training_file(messages: list[Any], path: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    extras = [load_data(str(ROOT / "nlu" / lang)) for lang in SUPPORTED_LANGUAGES]
    data = TrainingData(training_examples=messages)
    for extra in extras:  # synonyms, regexes and lookup tables are not examples: every fold keeps them
        data.entity_synonyms.update(extra.entity_synonyms)
        data.regex_features += extra.regex_features
        data.lookup_tables += extra.lookup_tables
    path.write_text(data.nlu_as_yaml(), encoding="utf-8")


def _rasa_entry() -> str:
    """The module that runs Rasa's CLI with Haven's log redaction."""
    return "bot.rasa_adapters.main"


def train_fold(messages: list[Any], workdir: Path, name: str) -> tuple[Path, float]:
    """Train the NLU pipeline on `messages` at low CPU priority; the model path and seconds."""
    from bot.model import rasa_env

    data = workdir / "nlu.yml"
    _write_training_file(messages, data)
    cmd = ["nice", "-n", "10", sys.executable, "-m", _rasa_entry(), "train", "nlu", "--config", "config.yml",
           "--nlu", str(data), "--out", str(workdir), "--fixed-model-name", name]
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=ROOT, env=rasa_env(), stdout=subprocess.DEVNULL)
    model = workdir / f"{name}.tar.gz"
    if result.returncode != 0 or not model.exists():
        raise SystemExit(f"error: training fold {name} failed (exit {result.returncode})")
    return model, time.monotonic() - started


def run_fold(k: int, folds: int, messages: list[Any], langs: list[str], test: list[int]) -> dict[str, Any]:
    """Train without fold k, parse fold k; the fold's records."""
    from bot.evaluate import predict_records

    held = set(test)
    train = [m for i, m in enumerate(messages) if i not in held]
    with tempfile.TemporaryDirectory(prefix="haven-cv-") as tmp:
        model, seconds = train_fold(train, Path(tmp), f"fold{k}")
        texts = [messages[i].get("text") for i in test]
        records = predict_records(model, texts)
    rows = [
        {**r, "text": messages[i].get("text"), "gold": messages[i].get("intent"), "language": langs[i]}
        for i, r in zip(test, records)
    ]
    return {"fold": k, "folds": folds, "train_examples": len(train), "train_seconds": round(seconds, 1), "rows": rows}


def data_fingerprint() -> str:
    """Fingerprint of what a fold's model depends on (config.yml and nlu/): stale folds are not reused."""
    from bot.model import fingerprint

    return fingerprint([ROOT / "config.yml", *sorted((ROOT / "nlu").rglob("*.yml"))])[:12]


def cross_validate(folds: int = 5, only: Optional[list[int]] = None) -> list[dict[str, Any]]:
    """Run (or reuse) every fold; returns the folds' results."""
    messages, langs = training_examples()
    tag = data_fingerprint()
    labels = [f"{lang}:{m.get('intent')}" for m, lang in zip(messages, langs)]
    tests = fold_indices(labels, folds)
    CV_DIR.mkdir(parents=True, exist_ok=True)
    results = []
    for k, test in enumerate(tests, start=1):
        path = CV_DIR / f"fold-{k}-of-{folds}-{tag}.json"
        if path.exists():
            print(f"fold {k}/{folds}: reusing {path.relative_to(ROOT)}", flush=True)
            results.append(json.loads(path.read_text()))
            continue
        if only and k not in only:
            continue
        print(f"fold {k}/{folds}: training on {len(messages) - len(test)} examples, then parsing {len(test)} ...",
              flush=True)
        result = run_fold(k, folds, messages, langs, test)
        path.write_text(json.dumps(result, ensure_ascii=False))
        print(f"fold {k}/{folds}: trained in {result['train_seconds']:.0f} s", flush=True)
        results.append(result)
    return results


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Macro-F1 per language: per fold, mean, and pooled over the out-of-fold predictions."""
    from statistics import mean, pstdev

    from bot.evaluate import answered_intent, score

    summary: dict[str, Any] = {"folds_done": [r["fold"] for r in results], "languages": {}}
    for lang in SUPPORTED_LANGUAGES:
        per_fold = []
        pooled_gold: list[str] = []
        pooled_pred: list[str] = []
        pooled_model: list[str] = []
        for result in results:
            rows = [row for row in result["rows"] if row["language"] == lang]
            gold = [row["gold"] for row in rows]
            pred = [answered_intent(row) for row in rows]
            per_fold.append(score(gold, pred)["macro_f1"])
            pooled_gold += gold
            pooled_pred += pred
            pooled_model += [row.get("model_intent") or "None" for row in rows]
        if not per_fold:
            continue
        summary["languages"][lang] = {
            "macro_f1_per_fold": per_fold,
            "macro_f1_mean": round(mean(per_fold), 3),
            "macro_f1_sd": round(pstdev(per_fold), 3),
            "macro_f1_pooled": score(pooled_gold, pooled_pred)["macro_f1"],
            # the model's own intent (argmax, fallback included), without the danger decision
            "macro_f1_model_only": score(pooled_gold, pooled_model)["macro_f1"],
        }
    summary["train_seconds"] = [r["train_seconds"] for r in results]
    return summary


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.eval_cv", description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", type=int, nargs="*", help="run only these folds now (others reused if present)")
    parser.add_argument("--write-thresholds", action="store_true",
                        help="choose the danger thresholds on the out-of-fold predictions and write them")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = cross_validate(args.folds, args.only)
    summary = summarise(results)
    print(f"\n{len(results)}/{args.folds} folds; training seconds per fold: {summary['train_seconds']}")
    for lang, r in summary["languages"].items():
        folds_text = " ".join(f"{f:.3f}" for f in r["macro_f1_per_fold"])
        print(f"  {lang}: CV macro-F1 {r['macro_f1_mean']:.3f} ± {r['macro_f1_sd']:.3f} "
              f"(pooled {r['macro_f1_pooled']:.3f}; model argmax alone {r['macro_f1_model_only']:.3f}; "
              f"folds {folds_text})")
    from bot.danger_eval import choose_and_report

    summary["thresholds"] = choose_and_report(results, write=args.write_thresholds)
    (CV_DIR / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"summary: {(CV_DIR / 'summary.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
