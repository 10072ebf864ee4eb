"""The Rasa model: train only when missing or when its inputs changed (a content fingerprint)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Optional

from bot.settings import ROOT

MODELS_DIR = ROOT / "models"
MODEL_NAME = "haven"
MODEL_PATH = MODELS_DIR / f"{MODEL_NAME}.tar.gz"
FINGERPRINT_PATH = MODELS_DIR / f"{MODEL_NAME}.fingerprint"
TRAINING_DATA = ("nlu", "data/dialogue")


def training_inputs() -> list[Path]:
    """Every file whose content shapes the trained model."""
    files = [ROOT / "config.yml"]
    for folder in ("domain", *TRAINING_DATA):
        files += sorted((ROOT / folder).rglob("*.yml"))
    return [f for f in files if f.is_file()]


def fingerprint(files: Optional[Iterable[Path]] = None) -> str:
    digest = hashlib.sha256()
    for path in files if files is not None else training_inputs():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def is_stale() -> bool:
    if not MODEL_PATH.exists() or not FINGERPRINT_PATH.exists():
        return True
    return FINGERPRINT_PATH.read_text().strip() != fingerprint()


def rasa_env() -> dict[str, str]:
    """Environment for Rasa subprocesses: offline, quiet TensorFlow, no telemetry."""
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("FORCE_JSON_LOGGING", "1")  # structlog as JSON: the log scrubber keeps only event names
    return env


def train_if_needed(force: bool = False) -> Path:
    """Train into models/haven.tar.gz when missing or stale; returns the model path."""
    if not force and not is_stale():
        return MODEL_PATH
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    print("==> training the Rasa model (inputs changed or no model yet); progress follows", flush=True)
    started = time.monotonic()
    print_fp = fingerprint()
    cmd = [
        sys.executable, "-m", "bot.rasa_adapters.main", "train",
        "--config", "config.yml", "--domain", "domain",
        "--data", *TRAINING_DATA,
        "--out", str(MODELS_DIR), "--fixed-model-name", MODEL_NAME,
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=rasa_env())
    if result.returncode != 0 or not MODEL_PATH.exists():
        raise SystemExit(f"error: training failed (exit {result.returncode}); see the output above")
    FINGERPRINT_PATH.write_text(print_fp)
    print(f"==> model trained in {time.monotonic() - started:.0f} s: {MODEL_PATH.relative_to(ROOT)}", flush=True)
    return MODEL_PATH
