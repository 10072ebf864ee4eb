"""Memory of the serving Rasa process (a Rasa adapter; issue 13). Applied by bot.rasa_adapters.main.

- `block_jax()`: TensorFlow 2.12 imports jax (a TensorFlow dependency) only for TFLite's
  jax-to-TFLite converter (tensorflow/lite/python/util.py, inside try/except ImportError); jax and
  jaxlib's XLA library cost ~64 MiB resident in every Rasa process and nothing here uses them.
- `install()`: RasaModel.load (DIET, TED) compiles the model with Adam and fits one example to
  create its variables, then restores the trained weights, so a served model keeps the optimizer
  (Adam's two slot variables per weight: twice the weights' memory) and the traced training
  step. Serving only predicts: after load (not in finetune mode) both are dropped, then freed
  heap pages are handed back to the system (glibc malloc_trim). Predictions are unchanged: they
  read only the model's weights, which are not touched.
"""

from __future__ import annotations

import sys
from typing import Any

from bot.trim import release_free_memory

_installed = False


def block_jax() -> None:
    """Make `import jax` fail in this process (before TensorFlow is imported), unless already loaded."""
    if "jax" not in sys.modules:
        sys.modules["jax"] = None  # type: ignore[assignment]


def drop_training_state(model: Any) -> None:
    """Drop a loaded Keras model's optimizer and traced training/evaluation steps."""
    model.optimizer = None
    model.train_function = None
    model.test_function = None
    model.history = None


def install() -> None:
    """Wrap RasaModel.load so a model loaded for prediction keeps no training-only state (idempotent)."""
    global _installed
    if _installed:
        return
    from rasa.utils.tensorflow.models import RasaModel

    original = RasaModel.load.__func__

    def load(cls: Any, model_file_name: str, model_data_example: Any, predict_data_example: Any = None,
             finetune_mode: bool = False, *args: Any, **kwargs: Any) -> Any:
        model = original(cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs)
        if not finetune_mode:
            drop_training_state(model)
            release_free_memory()
        return model

    RasaModel.load = classmethod(load)
    _installed = True
