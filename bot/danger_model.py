"""The dedicated danger classifier: binary, recall-first, trained in seconds (issue 11).

DIET's 30-way softmax gives P(immediate_danger) ~ 0 to danger written in words it has not seen.
This model answers one question only, "is this message danger?", from its own features: character
n-grams (2-5, within word boundaries) and word 1-2 grams, TF-IDF with sublinear counts, over a
texting-normalised text (lowercase, accents stripped, letters repeated 3+ times collapsed, common
SMS abbreviations of the five languages expanded), and a class-balanced logistic regression.
Its probability is what the danger thresholds (data/danger_thresholds.yml) are chosen on.

Persistence is plain data (vocabularies, idf weights, coefficients: JSON and an .npz read with
allow_pickle=False), never a pickle, so loading a model file cannot run code. Inference recomputes
TF-IDF from those arrays, so a model file does not depend on scikit-learn's private attributes.
No Rasa import here: the Rasa component is bot/rasa_adapters/danger_classifier.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import numpy.typing as npt

from bot.text import strip_accents

# Whole-token texting abbreviations, merged over the five languages (the model does not know the
# language). Only tokens without a competing meaning in another language are listed ("n" is "and"
# in English texting and "nao" in Portuguese; "toi" is French "you", not Spanish "estoy": left alone).
ABBREVIATIONS: dict[str, str] = {
    # en
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "plis": "please",
    "pliz": "please", "rn": "right now", "nw": "now", "bf": "boyfriend", "gf": "girlfriend",
    "hubby": "husband", "coz": "because", "cuz": "because", "bcoz": "because", "bcz": "because",
    "wanna": "want to", "gonna": "going to", "gotta": "got to", "2nite": "tonight", "2night": "tonight",
    "tonite": "tonight", "2day": "today", "2moro": "tomorrow", "tmrw": "tomorrow", "b4": "before",
    "dnt": "dont", "cnt": "cant", "wont": "will not", "hlp": "help", "hes": "he is", "shes": "she is",
    "im": "i am", "ppl": "people", "tht": "that", "wat": "what", "wht": "what", "ryt": "right",
    # fr
    "stp": "s il te plait", "svp": "s il vous plait", "mtn": "maintenant", "mnt": "maintenant",
    "mntn": "maintenant", "bcp": "beaucoup", "pk": "pourquoi", "pq": "pourquoi", "jsp": "je sais pas",
    "ds": "dans", "ki": "qui", "koi": "quoi", "kan": "quand", "tjr": "toujours", "tjrs": "toujours",
    "slt": "salut", "cc": "coucou", "jai": "j ai", "chui": "je suis", "chuis": "je suis",
    # es
    "xfa": "por favor", "porfa": "por favor", "xq": "porque", "porq": "porque", "tmb": "tambien",
    "ahorita": "ahora", "aora": "ahora", "toy": "estoy", "kiero": "quiero",
    # pt
    "vc": "voce", "vcs": "voces", "agr": "agora", "hj": "hoje", "pfv": "por favor", "pf": "por favor",
    "mto": "muito", "mt": "muito", "cmg": "comigo", "tbm": "tambem", "tb": "tambem", "qd": "quando",
    "qdo": "quando", "nd": "nada",
    # es / pt ("k" is "ok" in English texting: left alone)
    "q": "que", "ke": "que",
    # sw (texting / Sheng; "mi" is Spanish "my", "ako" a Swahili word: left alone)
    "xaxa": "sasa", "nsaidie": "nisaidie", "tafadhari": "tafadhali", "tafa": "tafadhali",
}

_REPEATS = re.compile(r"(\D)\1{2,}")  # a letter 3+ times ("pleeease", "heeelp"); digits kept
_NON_WORD = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_WORD_TOKENS = r"(?u)\b\w+\b"  # one-letter words count ("u", "q")


def plain(text: str) -> str:
    """Variant (b): lowercase only (the vectorisers' default preprocessing)."""
    return text.lower()


def texting_normal(text: str) -> str:
    """Variant (c): lowercase, accents stripped, repeats collapsed, abbreviations expanded."""
    text = strip_accents(text).casefold()
    text = _REPEATS.sub(r"\1", text)
    text = _SPACE.sub(" ", _NON_WORD.sub(" ", text.replace("'", "").replace("’", ""))).strip()
    return " ".join(ABBREVIATIONS.get(token, token) for token in text.split(" "))


PREPROCESSORS = {"plain": plain, "texting": texting_normal}


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters (the Rasa component's config keys have the same names)."""

    preprocess: str = "texting"  # "plain" (b) or "texting" (c)
    char_min: int = 2
    char_max: int = 5
    word_max: int = 2
    C: float = 30.0  # grouped CV: recall@P>=0.85 0.80 at C=10, 0.82 at 30, 0.82 at 100 (mean of languages)
    max_features: int = 60000  # per vectoriser; bounds the model file

    def __post_init__(self) -> None:
        if self.preprocess not in PREPROCESSORS:
            raise ValueError(f"preprocess must be one of {sorted(PREPROCESSORS)}")
        if not 1 <= self.char_min <= self.char_max or self.word_max < 1 or self.C <= 0:
            raise ValueError("invalid n-gram range or C")


@dataclass
class _Vocabulary:
    """One fitted TF-IDF vectoriser as plain data."""

    analyzer: str
    ngram: tuple[int, int]
    terms: dict[str, int]
    idf: npt.NDArray[np.float64]


def _count_vectoriser(config: ModelConfig, analyzer: str, ngram: tuple[int, int],
                      vocabulary: Optional[dict[str, int]] = None) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        analyzer=analyzer, ngram_range=ngram, preprocessor=PREPROCESSORS[config.preprocess],
        token_pattern=_WORD_TOKENS, vocabulary=vocabulary, lowercase=False,
        max_features=None if vocabulary is not None else config.max_features, dtype=np.float64,
    )


def _tfidf(counts: Any, idf: npt.NDArray[np.float64]) -> Any:
    """Sublinear TF-IDF, each row L2-normalised (TfidfVectorizer(sublinear_tf=True) by hand)."""
    from sklearn.preprocessing import normalize

    counts = counts.tocsr(copy=True)
    counts.data = 1.0 + np.log(counts.data)
    return normalize(counts.multiply(idf).tocsr(), norm="l2", copy=False)


class DangerModel:
    """P(danger) for a list of texts; fit, predict, save and load."""

    def __init__(self, config: Optional[ModelConfig] = None) -> None:
        self.config = config or ModelConfig()
        self._vocabularies: list[_Vocabulary] = []
        # (vectoriser, idf) per vocabulary, built once: a CountVectorizer given a vocabulary
        # re-validates all of it (every term) on its first transform, which was 30% of a turn's CPU.
        self._built: Optional[list[tuple[Any, npt.NDArray[np.float64]]]] = None
        self._coef: Optional[npt.NDArray[np.float64]] = None
        self._intercept = 0.0

    @property
    def is_fitted(self) -> bool:
        return self._coef is not None

    def _analyzers(self) -> list[tuple[str, tuple[int, int]]]:
        c = self.config
        return [("char_wb", (c.char_min, c.char_max)), ("word", (1, c.word_max))]

    def _features(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import hstack

        if self._built is None:
            self._built = [(_count_vectoriser(self.config, v.analyzer, v.ngram, v.terms), v.idf) for v in self._vocabularies]
        blocks = [_tfidf(vectoriser.transform(texts), idf) for vectoriser, idf in self._built]
        return hstack(blocks).tocsr()

    def fit(self, texts: Sequence[str], labels: Sequence[bool]) -> "DangerModel":
        """Fit on texts and their labels (True: danger). Needs both classes."""
        from sklearn.linear_model import LogisticRegression

        y = np.asarray([bool(v) for v in labels], dtype=int)
        if len(texts) != len(y) or len(set(y.tolist())) < 2:
            raise ValueError("the danger model needs danger and non-danger examples")
        self._vocabularies, self._built = [], None
        for analyzer, ngram in self._analyzers():
            vectoriser = _count_vectoriser(self.config, analyzer, ngram)
            counts = vectoriser.fit_transform(texts)
            df = np.bincount(counts.indices, minlength=counts.shape[1])
            idf = np.log((1 + len(texts)) / (1 + df)) + 1.0  # smooth_idf, as TfidfVectorizer
            terms = {str(t): int(i) for t, i in vectoriser.vocabulary_.items()}
            self._vocabularies.append(_Vocabulary(analyzer, ngram, terms, idf))
        clf = LogisticRegression(
            C=self.config.C, class_weight="balanced", solver="liblinear", max_iter=1000)
        clf.fit(self._features(texts), y)
        self._coef = np.asarray(clf.coef_[0], dtype=np.float64)
        self._intercept = float(clf.intercept_[0])
        return self

    def predict(self, texts: Sequence[str]) -> list[float]:
        """P(danger) per text (0.0 for an empty text)."""
        if self._coef is None:
            raise RuntimeError("the danger model is not fitted")
        if not texts:
            return []
        scores = self._features([t or "" for t in texts]) @ self._coef + self._intercept
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(scores, -50, 50)))
        return [0.0 if not t else float(p) for t, p in zip(texts, probabilities)]

    def save(self, folder: Path) -> None:
        """Write model.json (config, vocabularies) and model.npz (idf, coefficients) to `folder`."""
        if self._coef is None:
            raise RuntimeError("the danger model is not fitted")
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "config": asdict(self.config),
            "intercept": self._intercept,
            "vocabularies": [{"analyzer": v.analyzer, "ngram": list(v.ngram), "terms": v.terms}
                             for v in self._vocabularies],
        }
        (folder / "model.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        arrays = {f"idf{i}": v.idf for i, v in enumerate(self._vocabularies)}
        np.savez_compressed(folder / "model.npz", coef=self._coef, **arrays)

    @classmethod
    def load(cls, folder: Path) -> "DangerModel":
        """Read a model written by save() (no pickle: allow_pickle=False)."""
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        model = cls(ModelConfig(**meta["config"]))
        with np.load(folder / "model.npz", allow_pickle=False) as arrays:
            model._coef = np.asarray(arrays["coef"], dtype=np.float64)
            model._vocabularies = [
                _Vocabulary(v["analyzer"], (int(v["ngram"][0]), int(v["ngram"][1])),
                            {str(k): int(j) for k, j in v["terms"].items()},
                            np.asarray(arrays[f"idf{i}"], dtype=np.float64))
                for i, v in enumerate(meta["vocabularies"])
            ]
        model._intercept = float(meta["intercept"])
        width = sum(len(v.terms) for v in model._vocabularies)
        if model._coef.shape != (width,):
            raise ValueError("danger model file is inconsistent (coefficients do not match vocabularies)")
        return model
