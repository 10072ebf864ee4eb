"""Entry point for the Rasa server process: install log redaction, then run Rasa's CLI.

`python -m bot.rasa_adapters.main run ...` (what `haven run` starts). For a serving command it
also wires the process: Rasa patches, and the channels' sender for the core (bot.ports).
"""

from __future__ import annotations

import sys


def share_action_secret() -> None:
    """endpoints.yml sends ${HAVEN_ACTION_SECRET} to the action/NLG server: make sure it is set
    (in dev it is the generated one under var/dev-secrets/, which the action server reads too)."""
    import os

    from bot.settings import get_settings

    os.environ["HAVEN_ACTION_SECRET"] = get_settings().action_secret


def main(argv: list[str]) -> None:
    from bot.logging_setup import install_redaction

    install_redaction()  # before Rasa is imported: it reads FORCE_JSON_LOGGING at import time
    from bot.rasa_adapters import memory

    memory.block_jax()  # before TensorFlow is imported (~64 MiB; bot/rasa_adapters/memory.py)
    share_action_secret()
    if argv[:1] in (["run"], ["test"], ["shell"]):
        from bot.rasa_adapters.patches import install

        install()
        memory.install()  # a loaded model keeps no optimizer or training step
        from channels.outbound import register

        register()  # officer replies held for her WhatsApp window; Telegram deletion on erase
    from rasa.__main__ import main as rasa_cli

    sys.argv = ["rasa", *argv]
    rasa_cli()


if __name__ == "__main__":
    main(sys.argv[1:])
