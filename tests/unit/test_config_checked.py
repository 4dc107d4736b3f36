"""config.toml is checked: a typo, a wrong kind of value or an impossible duration is one
clear error naming the file, the key and (for a typo) the nearest valid name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent.parent


def settings_from(tmp_path: Path, text: str, **env: str) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings({"CONFIDE_CONFIG": str(config), **env})


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[intak]\nexclusion = 'list'\n", "unknown section [intak]: did you mean [intake]?"),
        ("[service_level]\nclaim_hours = 4\n", "did you mean [service_levels]?"),
        (
            "[intake]\ndraft_max_age_hour = 24\n",
            "unknown key 'draft_max_age_hour' in [intake]: did you mean 'draft_max_age_hours'?",
        ),
        ("[retention]\nclosed = 30\n", "did you mean 'closed_days'?"),
        ('token = "1:x"\n', "'token' must be inside a section: did you mean [telegram] token?"),
        ("[intake]\ndraft_max_age_hours = '72'\n", "[intake] draft_max_age_hours must be a number"),
        ("[telegram]\npoll_timeout = 1.5\n", "[telegram] poll_timeout must be a whole number"),
        ("[telegram]\nconcurrent_updates = true\n", "must be a whole number"),
        ("[database]\nurl = 5\n", "[database] url must be text in quotes"),
        ("[service_levels]\nclaim_hours = 0\n", "[service_levels] claim_hours must be more than 0"),
        ("[intake]\ndraft_max_age_hours = -1\n", "must be more than 0, not -1"),
        ("[retention]\nclosed_days = 0\n", "[retention] closed_days must be more than 0"),
        ("[limits]\nreports_per_day = -3\n", "must be more than 0"),
        ("[responders]\ncase_content_hours = 48\n", "less than 48"),
        ("[logging]\nlevel = 'verbose'\n", "[logging] level must be one of DEBUG, INFO, WARNING"),
        ("[intake]\nexclusion = 'maybe'\n", "must be one of list, typed, off"),
        ("[organisation]\ntimezone = 'Mars/Olympus'\n", "must be a time zone name such as"),
        ("[organisation]\ndate_order = 'dd/mm'\n", "must be one of dmy, mdy, ymd"),
        ("[organisation]\nwelcome = { fr = 'Bonjour' }\n", "text for 'fr', which is not one of"),
        ("[organisation]\nname = 3\n", "must be text, or text per language"),
        ("intake = 3\n", "[intake] must be a section (a table), not a value"),
    ],
)
def test_mistakes_are_named_with_the_nearest_valid_key(
    tmp_path: Path, text: str, said: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from(tmp_path, text)
    message = str(raised.value)
    assert str(tmp_path / "config.toml") in message
    assert said in message, message
    assert "\n" not in message


def test_the_log_level_from_the_environment_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CONFIDE_LOG_LEVEL must be one of"):
        settings_from(tmp_path, "", CONFIDE_LOG_LEVEL="loud")
    assert settings_from(tmp_path, "", CONFIDE_LOG_LEVEL="debug").log_level == "DEBUG"


def test_the_shipped_example_is_valid_and_its_defaults_hold(tmp_path: Path) -> None:
    settings = load_settings({"CONFIDE_CONFIG": str(REPO / "config.example.toml")})
    assert settings.retention.closed_days == 365 and settings.retention.metadata_days == 730
    assert str(settings.timezone) == "UTC"
    assert settings.organisation.welcome is None


def test_the_organisations_words_and_time_zone(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        "[organisation]\n"
        'timezone = "Asia/Shanghai"\n'
        'name = "Example Ltd"\n'
        'emergency = { en = "Security: 110", zh = "安保：110" }\n'
        'welcome = { zh = "欢迎" }\n',
    )
    words = settings.organisation
    assert str(settings.timezone) == "Asia/Shanghai"
    assert words.name is not None and words.emergency is not None and words.welcome is not None
    assert words.name.get("zh") == "Example Ltd"
    assert (words.emergency.get("en"), words.emergency.get("zh")) == ("Security: 110", "安保：110")
    assert words.welcome.get("zh") == "欢迎" and words.welcome.get("en") == "欢迎"
