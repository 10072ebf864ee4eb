"""Settings: explicit arguments, environment, production refusal naming the missing secret."""

from __future__ import annotations

import re

import pytest

from bot.settings import ROOT, SettingsError, load_settings
from tests.conftest import TEST_KEYS


def test_dev_defaults_work_with_no_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("bot.settings.VAR_DIR", tmp_path)
    s = load_settings({})
    assert s.env == "dev" and s.database_url.startswith("sqlite:///")
    assert len(s.master_key) == 32 and s.master_key != s.pseudonym_key
    assert not (s.sms_enabled or s.whatsapp_enabled or s.telegram_enabled)
    assert load_settings({}).master_key == s.master_key  # the dev key persists across restarts


def test_production_refuses_and_names_every_missing_secret() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"HAVEN_ENV": "production", "HAVEN_TELEGRAM_TOKEN": "x"})
    message = str(err.value)
    for name in ("HAVEN_MASTER_KEY", "HAVEN_PSEUDONYM_KEY", "HAVEN_DATABASE_URL", "HAVEN_PUBLIC_URL",
                 "HAVEN_TELEGRAM_SECRET", "HAVEN_ACTION_SECRET"):
        assert name in message


def test_production_starts_with_its_secrets() -> None:
    env = dict(TEST_KEYS, HAVEN_ENV="production", HAVEN_DATABASE_URL="postgresql://db/haven",
               HAVEN_PUBLIC_URL="https://help.example.org/", HAVEN_ACTION_SECRET="action-secret-for-tests-0001")
    s = load_settings(env)
    assert s.is_production and s.public_url == "https://help.example.org"


def test_bad_values_are_reported_without_echoing_them() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"HAVEN_MASTER_KEY": "not-a-key-zzz"})
    assert "not-a-key" not in str(err.value) and "HAVEN_MASTER_KEY" in str(err.value)
    with pytest.raises(SettingsError):
        load_settings(dict(TEST_KEYS, HAVEN_RETENTION_DAYS="soon"))


def test_explicit_overrides_win() -> None:
    assert load_settings(TEST_KEYS, retention_days=7).retention_days == 7
    with pytest.raises(SettingsError):
        load_settings(TEST_KEYS, no_such_setting=1)


def test_env_example_documents_every_variable_the_code_reads() -> None:
    used: set[str] = set()
    for folder in ("bot", "channels", "actions"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"HAVEN_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    documented = set(re.findall(r"HAVEN_[A-Z][A-Z0-9_]*[A-Z0-9]\b", (ROOT / ".env.example").read_text()))
    internal = {n for n in used if n.startswith("HAVEN_TEST_")}
    assert sorted(used - documented - internal) == []
