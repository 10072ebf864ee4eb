"""Entry point for the Rasa server process: install log redaction, then run Rasa's CLI."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from bot.logging_setup import install_redaction

    install_redaction()
    import rasa.plugin  # noqa: F401 - so the anonymizer hook registers on Rasa's plugin manager

    install_redaction()
    from rasa.__main__ import main as rasa_cli

    sys.argv = ["rasa", *argv]
    rasa_cli()


if __name__ == "__main__":
    main(sys.argv[1:])
