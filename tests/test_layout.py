"""The folder layout is the architecture (docs/architecture.md): small modules, and every
package shipped."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAX_LINES = 400  # a module in services/ or telegram/ longer than this does too much


def test_no_service_or_telegram_module_is_over_400_lines() -> None:
    for folder in ("bot/services", "bot/telegram"):
        for module in (REPO / folder).rglob("*.py"):
            lines = len(module.read_text(encoding="utf-8").splitlines())
            assert lines <= MAX_LINES, f"{module.relative_to(REPO)} has {lines} lines"


def test_every_package_is_shipped() -> None:
    """A package missing from pyproject's list works in a checkout and fails installed."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "bot").rglob("__init__.py")
    }
    assert found <= shipped, sorted(found - shipped)


def test_the_intake_diagram_shows_the_flows_stages() -> None:
    """docs/architecture.md draws the intake conversation; a stage added to the code and
    not to the picture fails here."""
    import re

    from bot.intake.flow import Stage

    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = doc.split("```mermaid", 1)[1].split("```", 1)[0]
    drawn = set(re.findall(r"(\w+) -->", diagram)) | set(re.findall(r"--> (\w+)", diagram))
    assert drawn - {"*"} == {s.value for s in Stage} | {"submitted", "discarded"}
