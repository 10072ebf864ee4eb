"""Haven: the application core (no Rasa imports at module top level, except the Rasa adapters)."""
