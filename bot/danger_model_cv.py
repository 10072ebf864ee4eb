"""Cross-validation of the dedicated danger classifier over the TRAINING data (nlu/<lang>/*.yml).

`python -m bot.danger_model_cv [--write-thresholds]`. Every nlu/<lang>/*.yml file is read (Rasa's
loader); the label is "the intent is immediate_danger" (third-party danger is labelled so too).
Folds: 5, stratified by danger label and grouped so near-duplicates (word TF-IDF cosine >= 0.8,
same language) never straddle a train and a test fold; fold k is every language's fold k, and each
fold's model is trained on all languages (one multilingual model, as in production). Variants:

  (a) DIET's P(immediate_danger): out-of-fold rows of `make eval-cv` in results/cv/ if present
      (its own folds: stratified by language and intent, not grouped); skipped otherwise;
  (b) TF-IDF char_wb 2-5 + word 1-2, lowercase only: logistic regression / calibrated linear SVM,
      both class-balanced;
  (c) the same over texting-normalised text (bot/danger_model.py: the production model is c-logreg).

Per language: recall at precision >= 0.85 and PR-AUC (average precision), pooled over the folds,
with 95% intervals from a bootstrap over folds (folds resampled with replacement). tests/ is never
read. --write-thresholds chooses data/danger_thresholds.yml on (c)'s out-of-fold probabilities
with bot/danger_eval.py:choose_and_report (the same rule as `make eval-cv`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import numpy.typing as npt

from bot.danger_model import PREPROCESSORS, DangerModel, ModelConfig, texting_normal
from bot.settings import ROOT, SUPPORTED_LANGUAGES

FOLDS = 5
SEED = 7
PRECISION_FLOOR = 0.85
NEAR_DUPLICATE = 0.8
BOOTSTRAP = 2000
DANGER_INTENT = "immediate_danger"
Row = dict[str, Any]
Fitter = Callable[[Sequence[str], Sequence[bool]], Callable[[Sequence[str]], list[float]]]


def load_examples(languages: Sequence[str] = SUPPORTED_LANGUAGES) -> list[Row]:
    """Every intent example of every nlu/<lang>/*.yml (no fixed file list): text, intent, language."""
    from bot.eval_cv import training_examples

    messages, langs = training_examples(tuple(languages))
    return [{"text": m.get("text"), "gold": m.get("intent"), "language": lang}
            for m, lang in zip(messages, langs) if m.get("text")]


def near_duplicate_groups(texts: Sequence[str], threshold: float = NEAR_DUPLICATE) -> list[int]:
    """A group id per text: connected components of word TF-IDF cosine >= threshold."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(preprocessor=texting_normal, token_pattern=r"(?u)\b\w+\b").fit_transform(texts)
    similar = (matrix @ matrix.T) >= threshold
    _, labels = connected_components(similar, directed=False)
    return [int(g) for g in labels]


def assign_folds(rows: list[Row], folds: int = FOLDS, seed: int = SEED) -> None:
    """Set row["fold"] (1..folds): per language, stratified by label, grouped by near-duplicates."""
    from sklearn.model_selection import StratifiedGroupKFold

    for lang in sorted({r["language"] for r in rows}):
        subset = [r for r in rows if r["language"] == lang]
        groups = near_duplicate_groups([r["text"] for r in subset])
        y = [r["gold"] == DANGER_INTENT for r in subset]
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(subset)), y, groups), start=1):
            for i in test:
                subset[int(i)]["fold"] = k


def fit_danger_model(preprocess: str) -> Fitter:
    def fit(texts: Sequence[str], labels: Sequence[bool]) -> Callable[[Sequence[str]], list[float]]:
        return DangerModel(ModelConfig(preprocess=preprocess)).fit(texts, labels).predict
    return fit


def fit_svm(preprocess: str) -> Fitter:
    """Linear SVM on the same features, probabilities by sigmoid calibration (3-fold, inner)."""
    def fit(texts: Sequence[str], labels: Sequence[bool]) -> Callable[[Sequence[str]], list[float]]:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.svm import LinearSVC

        pre = PREPROCESSORS[preprocess]
        features = make_union(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), preprocessor=pre, sublinear_tf=True),
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), preprocessor=pre, sublinear_tf=True,
                            token_pattern=r"(?u)\b\w+\b"),
        )
        svm = CalibratedClassifierCV(LinearSVC(class_weight="balanced", C=0.5), cv=3, method="sigmoid")
        model = make_pipeline(features, svm).fit(list(texts), [bool(v) for v in labels])
        return lambda batch: [float(p) for p in model.predict_proba(list(batch))[:, 1]]
    return fit


VARIANTS: dict[str, Fitter] = {
    "b-logreg": fit_danger_model("plain"),
    "b-svm": fit_svm("plain"),
    "c-logreg": fit_danger_model("texting"),
    "c-svm": fit_svm("texting"),
}


def out_of_fold(rows: list[Row], fitter: Fitter, folds: int = FOLDS) -> tuple[list[float], list[float]]:
    """Out-of-fold P(danger) per row (in row order) and the training seconds of each fold."""
    probabilities = [0.0] * len(rows)
    seconds = []
    for k in range(1, folds + 1):
        train = [r for r in rows if r["fold"] != k]
        test = [i for i, r in enumerate(rows) if r["fold"] == k]
        started = time.perf_counter()
        predict = fitter([r["text"] for r in train], [r["gold"] == DANGER_INTENT for r in train])
        seconds.append(time.perf_counter() - started)
        for i, p in zip(test, predict([rows[i]["text"] for i in test])):
            probabilities[i] = p
    return probabilities, seconds


def recall_at_precision(gold: npt.ArrayLike, scores: npt.ArrayLike, floor: float = PRECISION_FLOOR) -> float:
    """The highest recall of any threshold whose precision is >= floor (0.0 if none)."""
    from sklearn.metrics import precision_recall_curve

    if not np.any(gold):
        return float("nan")
    precision, recall, _ = precision_recall_curve(gold, scores)
    reachable = recall[precision >= floor]
    return float(reachable.max()) if reachable.size else 0.0


def pr_auc(gold: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(gold, scores)) if np.any(gold) else float("nan")


def _metrics_with_interval(gold: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64],
                           folds: npt.NDArray[np.int_], rng: np.random.Generator, reps: int = BOOTSTRAP) -> dict[str, Any]:
    """Both metrics on the pooled rows, and 95% intervals from resampling whole folds."""
    ids = sorted(set(folds.tolist()))
    members = {k: np.flatnonzero(folds == k) for k in ids}
    samples: dict[str, list[float]] = {"recall_at_p85": [], "pr_auc": []}
    for _ in range(reps):
        chosen = np.concatenate([members[k] for k in rng.choice(ids, size=len(ids), replace=True)])
        g, s = gold[chosen], scores[chosen]
        if g.any() and not g.all():
            samples["recall_at_p85"].append(recall_at_precision(g, s))
            samples["pr_auc"].append(pr_auc(g, s))
    out: dict[str, Any] = {"recall_at_p85": round(recall_at_precision(gold, scores), 3),
                           "pr_auc": round(pr_auc(gold, scores), 3), "danger": int(gold.sum()), "n": len(gold)}
    for name, values in samples.items():
        low, high = np.percentile(values, [2.5, 97.5]) if values else (float("nan"), float("nan"))
        out[f"{name}_ci95"] = [round(float(low), 3), round(float(high), 3)]
    return out


def evaluate(rows: list[Row], scores: Sequence[float], seed: int = SEED) -> dict[str, Any]:
    """Per language: recall at precision >= 0.85 and PR-AUC, with fold-bootstrap intervals."""
    rng = np.random.default_rng(seed)
    out = {}
    for lang in [lang for lang in SUPPORTED_LANGUAGES if any(r["language"] == lang for r in rows)]:
        idx = [i for i, r in enumerate(rows) if r["language"] == lang]
        gold = np.asarray([rows[i]["gold"] == DANGER_INTENT for i in idx])
        folds = np.asarray([int(rows[i]["fold"]) for i in idx])
        out[lang] = _metrics_with_interval(gold, np.asarray([scores[i] for i in idx], dtype=float), folds, rng)
    return out


def diet_rows(cv_dir: Path = ROOT / "results" / "cv") -> tuple[list[Row], list[float]]:
    """(a): DIET's out-of-fold P(immediate_danger) from `make eval-cv` results, if present."""
    rows: list[Row] = []
    for path in sorted(cv_dir.glob("fold-*-of-*.json")):
        result = json.loads(path.read_text())
        rows += [{**r, "fold": result["fold"]} for r in result["rows"]]
    scores = [float(r.get("p_model", r.get("probability")) or 0.0) for r in rows]
    return rows, scores


def print_table(name: str, figures: dict[str, Any], seconds: Optional[list[float]] = None) -> None:
    timing = f"  (fit {np.mean(seconds):.1f} s per fold on ~{FOLDS - 1}/{FOLDS} of the data)" if seconds else ""
    print(f"{name}{timing}")
    for lang, m in figures.items():
        print(f"  {lang}: recall@P>={PRECISION_FLOOR} {m['recall_at_p85']:.3f} "
              f"[{m['recall_at_p85_ci95'][0]:.3f}, {m['recall_at_p85_ci95'][1]:.3f}]  "
              f"PR-AUC {m['pr_auc']:.3f} [{m['pr_auc_ci95'][0]:.3f}, {m['pr_auc_ci95'][1]:.3f}]  "
              f"({m['danger']} danger / {m['n']})")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.danger_model_cv", description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--write-thresholds", action="store_true",
                        help="choose data/danger_thresholds.yml on c-logreg's out-of-fold probabilities")
    parser.add_argument("--report", type=Path, default=ROOT / "results" / "danger-model-cv.json")
    args = parser.parse_args(argv)
    rows = load_examples()
    assign_folds(rows)
    print(f"{len(rows)} training examples, {sum(r['gold'] == DANGER_INTENT for r in rows)} danger; "
          f"{FOLDS} grouped folds")
    report: dict[str, Any] = {}
    diet, diet_scores = diet_rows()
    if diet:
        report["a-diet"] = evaluate(diet, diet_scores)
        print_table("a-diet (results/cv, its own folds)", report["a-diet"])
    else:
        print("a-diet: skipped (no results/cv/ out-of-fold predictions; `make eval-cv` makes them)")
    chosen: Optional[list[float]] = None
    for name in args.variants:
        scores, seconds = out_of_fold(rows, VARIANTS[name])
        report[name] = {"languages": evaluate(rows, scores), "fit_seconds": [round(s, 2) for s in seconds]}
        print_table(name, report[name]["languages"], seconds)
        if name == "c-logreg":
            chosen = scores
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2))
    print(f"report: {args.report}")
    if args.write_thresholds:
        if chosen is None:
            chosen, _ = out_of_fold(rows, VARIANTS["c-logreg"])
        from bot.danger_eval import choose_and_report

        fold_rows = [{**r, "probability": p, "p_classifier": p, "model_top": None} for r, p in zip(rows, chosen)]
        results = [{"fold": k, "folds": FOLDS, "rows": [r for r in fold_rows if r["fold"] == k]}
                   for k in range(1, FOLDS + 1)]
        choose_and_report(results, write=True, what=(
            f"out-of-fold P(danger) of the danger classifier (c-logreg) in a {FOLDS}-fold grouped CV over "
            "nlu/ (training data only; bot/danger_model_cv.py, bot/danger_eval.py:choose_thresholds)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
