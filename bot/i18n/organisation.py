"""The organisation's own words, set in config.toml per language ([organisation]): its name,
a welcome of its own, what it adds to the privacy notice, and whom to call in an emergency.
Operators write plain text; it is shown escaped."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Text


@dataclass(frozen=True)
class OrganisationWords:
    name: Text | None = None  # shown above the welcome and the privacy notice
    welcome: Text | None = None  # instead of the built-in welcome
    privacy: Text | None = None  # after the built-in privacy notice
    emergency: Text | None = None  # with the urgent choice, and after an urgent report
