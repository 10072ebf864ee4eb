"""Rasa adapters: the only bot/ modules that import Rasa at top level.

tracker_store (encrypted events; endpoints.yml), lock_store (Redis or in-memory; endpoints.yml),
components (the DangerBackstop NLU component; config.yml), patches (fixes to Rasa 3.6 internals),
main (the Rasa server process entry point: `python -m bot.rasa_adapters.main run ...`).
"""
