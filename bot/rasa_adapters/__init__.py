"""Rasa adapters: classes Rasa loads from endpoints.yml (lock store, tracker store, NLG)."""
