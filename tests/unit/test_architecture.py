"""The layout holds: no import cycle, the core imports no adapter, no module over 400 lines.

The checker (tests/architecture.py) reads imports from source with `ast`, so these tests also
cover lazy imports inside functions and `importlib.import_module("...")` calls.
"""

from __future__ import annotations

from pathlib import Path

from tests import architecture


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    for package in architecture.PACKAGES:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()
    return root


def test_no_import_cycle() -> None:
    assert architecture.cycles(architecture.build()) == []


def test_core_imports_no_adapter() -> None:
    assert architecture.violations(architecture.build()) == []


def test_no_module_over_400_lines() -> None:
    assert architecture.too_long(architecture.build()) == []


def test_checker_sees_every_package() -> None:
    modules = architecture.build().modules
    for name in ("bot.handoff.claims", "bot.ports", "channels.outbound", "actions.handoff", "bot.rasa_adapters.main"):
        assert name in modules


def test_checker_finds_a_planted_cycle(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "bot/a.py": "from bot import b\n",
        "bot/b.py": "def f():\n    import importlib\n    return importlib.import_module('bot.c')\n",
        "bot/c.py": "from bot.a import x\n",
        "bot/d.py": "import bot.a\n",
    })
    assert architecture.cycles(architecture.build(root)) == [["bot.a", "bot.b", "bot.c"]]


def test_checker_finds_planted_core_to_adapter_imports(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "bot/handoff/__init__.py": "",
        "bot/handoff/relay.py": "def send():\n    from channels.outbound import send_to_conversation\n",
        "bot/queue.py": "from bot.console import audit\n",
        "bot/tracker.py": "from rasa.core.tracker_store import TrackerStore\n",
        "bot/lazy.py": "def f():\n    import rasa\n",
        "bot/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import actions.handoff\n",
        "bot/rasa_adapters/__init__.py": "",
        "bot/rasa_adapters/store.py": "from rasa.core.tracker_store import TrackerStore\nimport channels.outbound\n",
        "bot/console/__init__.py": "",
        "bot/console/audit.py": "import channels.outbound\n",
        "channels/outbound.py": "from bot.handoff import relay\n",
    })
    found = architecture.violations(architecture.build(root))
    assert found == [
        "bot.handoff.relay:2 imports adapter channels.outbound",
        "bot.queue:1 imports adapter bot.console.audit",
        "bot.tracker:1 imports rasa.core.tracker_store at top level",
        "bot.typed:3 imports adapter actions.handoff",
    ]


def test_checker_finds_a_long_module(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"channels/long.py": "x = 1\n" * 401, "channels/ok.py": "x = 1\n" * 400})
    assert architecture.too_long(architecture.build(root)) == ["channels.long: 401 lines"]
