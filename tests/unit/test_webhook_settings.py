"""Webhook mode's settings and its secret: the same for every replica with the key file, in
Telegram's alphabet, unchanged by a key rotation, and nobody else's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.crypto import Keyring


def settings_from(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings({"CONFIDE_CONFIG": str(config)})


def test_the_secret_is_derived_from_the_key_file_in_telegrams_alphabet() -> None:
    keyring = Keyring.generate()
    secret = keyring.webhook_secret()
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
    assert Keyring.parse(keyring.dump()).webhook_secret() == secret  # another replica
    assert keyring.with_new_kek().webhook_secret() == secret  # a rotation keeps it
    assert Keyring.generate().webhook_secret() != secret
    assert keyring.webhook_secret_matches(secret)
    for wrong in (None, "", secret[:-1], secret + "x", secret.lower(), "é" + secret[1:]):
        assert not keyring.webhook_secret_matches(wrong)


def test_polling_is_the_default_and_webhook_settings_have_defaults(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, "")
    assert settings.mode == "polling"
    assert settings.webhook.url is None
    assert (settings.webhook.listen, settings.webhook.port) == ("127.0.0.1", 8080)
    with pytest.raises(ConfigError, match=r"\[webhook\] url"):
        settings.require_webhook_url()

    hooked = settings_from(
        tmp_path,
        '[telegram]\nmode = "webhook"\n'
        '[webhook]\nurl = "https://confide.example.org/tg/hook"\nmax_connections = 10\n',
    )
    assert hooked.mode == "webhook"
    assert hooked.require_webhook_url() == "https://confide.example.org/tg/hook"
    assert hooked.webhook.path == "/tg/hook"  # the URL's path, unless a proxy rewrites it
    assert hooked.webhook.max_connections == 10
    rewritten = settings_from(
        tmp_path, '[webhook]\nurl = "https://confide.example.org/"\npath = "/in"\nport = 9000\n'
    )
    assert (rewritten.webhook.path, rewritten.webhook.port) == ("/in", 9000)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[telegram]\nmode = "hook"\n', "[telegram] mode must be one of polling, webhook"),
        ('[webhook]\nurl = "http://confide.example.org/"\n', "must be an https:// address"),
        ('[webhook]\nurl = "confide.example.org"\n', "must be an https:// address"),
        ('[webhook]\npath = "hook"\n', "[webhook] path must start with /"),
        ("[webhook]\nport = 70000\n", "at most 65535"),
        ("[webhook]\nmax_connections = 101\n", "from 1 to 100"),
        ("[webhook]\nmax_connection = 10\n", "did you mean 'max_connections'?"),
    ],
)
def test_webhook_mistakes_are_one_clear_error(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from(tmp_path, text)
    assert said in str(raised.value)


def test_plain_http_is_accepted_for_a_bot_api_server_on_this_machine(tmp_path: Path) -> None:
    local = settings_from(tmp_path, '[webhook]\nurl = "http://127.0.0.1:8081/hook"\n')
    assert local.webhook.url == "http://127.0.0.1:8081/hook"
