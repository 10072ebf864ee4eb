"""Words with a fixed meaning at the channel edge (shared by the gate and the locale tests)."""

# SMS carrier words belong to the carrier: never Haven commands or menu options (SAFETY.md 4).
CARRIER_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
CARRIER_OPT_IN = frozenset({"start", "unstop"})
# Quick exit in any language: the short symbol, the Telegram command, and "exit".
UNIVERSAL_EXIT = frozenset({"##", "/exit", "exit"})
