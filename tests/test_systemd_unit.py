"""The systemd unit in docs/operating.md runs the bot as a non-root user, sandboxed, with a
private state directory, restarted on failure and given time to stop; and systemd itself
accepts the file, where systemd-analyze is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "operating.md"
HEADING = "## Running it as a service (systemd)"
YES = {"yes", "true", "on", "1"}

Unit = dict[str, dict[str, list[str]]]


def unit_text() -> str:
    """The first ```ini block after the heading (not any other section's example)."""
    doc = DOC.read_text(encoding="utf-8")
    assert HEADING in doc, f"{DOC.name} lost its heading {HEADING!r}"
    section = doc.split(HEADING, 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```ini\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert found is not None, f"no ```ini block under {HEADING!r}"
    return found[1]


def parse(text: str) -> Unit:
    """systemd's syntax, as far as the unit uses it: a key may repeat (Environment=), so
    every value is kept, in order; configparser would keep only the last."""
    unit: Unit = {}
    values: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            values = unit.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert equals and values is not None and not line.endswith("\\"), (number, raw)
        values.setdefault(key.strip(), []).append(value.strip())
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    values = unit.get(section, {}).get(key, [])
    assert values, f"[{section}] has no {key}="
    return values[-1]  # as systemd reads a repeated single-valued key


def seconds(value: str) -> float:
    """A systemd time span such as 15, 15s, 1min 30s or 500ms."""
    units = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value)
    assert parts and "".join(n + u for n, u in parts) == value.replace(" ", ""), value
    return sum(float(n) * units[u] for n, u in parts)


def test_the_unit_runs_the_bot_sandboxed_as_a_user_with_its_own_state() -> None:
    unit = parse(unit_text())
    assert "network-online.target" in one(unit, "Unit", "After").split()
    assert "network-online.target" in one(unit, "Unit", "Wants").split()

    service = unit["Service"]
    dynamic = service.get("DynamicUser", ["no"])[-1].lower() in YES
    user = service.get("User", ["root"])[-1]
    assert dynamic or user not in {"root", "0", ""}, "the bot must not run as root"
    assert one(unit, "Service", "ExecStart").endswith("/confide run")

    state = one(unit, "Service", "StateDirectory")
    assert state == "confide" and one(unit, "Service", "WorkingDirectory") == f"/var/lib/{state}"
    # The keys are kept apart from the database (docs/security.md): a backup or a copy of
    # the state directory must not hold both.
    environment = dict(v.split("=", 1) for v in service.get("Environment", []))
    assert environment["CONFIDE_CONFIG"].startswith(f"/var/lib/{state}/")
    assert not environment["CONFIDE_KEY_FILE"].startswith(f"/var/lib/{state}/")

    assert one(unit, "Service", "ProtectSystem") in {"strict", "full"}
    for flag in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "RestrictSUIDSGID"):
        assert one(unit, "Service", flag).lower() in YES, flag
    assert one(unit, "Service", "UMask") == "0077"
    assert one(unit, "Service", "CapabilityBoundingSet") == ""

    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    # The bot takes up to 10 s to stop after SIGTERM; a shorter wait kills it midway.
    assert seconds(one(unit, "Service", "TimeoutStopSec")) > 10
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_the_parser_sees_what_systemd_would_see() -> None:
    unit = parse("[Service]\n# a comment\nEnvironment=A=1\nEnvironment=B=2\nUser=\nUser=x\n")
    assert unit == {"Service": {"Environment": ["A=1", "B=2"], "User": ["", "x"]}}
    assert seconds("15") == seconds("15s") == 15 and seconds("1min 30s") == 90


def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit was only parsed")
    # verify checks that ExecStart's program exists; /opt/confide is not installed here, so
    # an executable that is stands in for it (same arguments).
    text, replaced = re.subn(r"^ExecStart=\S+", "ExecStart=/bin/true", unit_text(), flags=re.M)
    assert replaced == 1
    path = tmp_path / "confide.service"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    # verify exits 0 on an unknown key or a value it cannot parse, but names the file or the
    # unit; lines about the host's own units are not this test's business.
    ours = [line for line in output.splitlines() if str(path) in line or "confide" in line]
    assert result.returncode == 0 and not ours, output
