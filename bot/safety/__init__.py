"""Survivor safety: quick-exit gate, erase, danger lexicon, retention."""
