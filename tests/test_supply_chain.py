"""requirements.lock pins what pyproject.toml asks for, with hashes, and .ci/audit-deps fails
on a known vulnerability but skips, saying so, when the vulnerability data is out of reach.

No test here needs the network. The vulnerability data comes from a local HTTP server that
plays PyPI's JSON API or an OSV endpoint; pip-audit itself is the real one."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
AUDIT = REPO / ".ci" / "audit-deps"
LOCK = REPO / "requirements.lock"
SKIPPED = "dependency audit skipped: cannot reach {host} (vulnerability data): "
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), from pip's requirements syntax as pip-compile writes it."""
    text = LOCK.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if pin is not None:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", line)
            pins[canonicalize_name(pin[1])] = (pin[2], hashes)
    return pins


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    pins = locked()
    assert len(wanted) >= 6 and len(pins) >= len(wanted)
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: regenerate it (its header)"
        version = pins[name][0]
        # A raised minimum in pyproject.toml that the lock does not follow fails here.
        assert requirement.specifier.contains(Version(version), prereleases=True), (name, version)
    unhashed = [name for name, (_, hashes) in pins.items() if not hashes]
    assert not unhashed, f"pins without --hash: {unhashed}"


class FakeData(ThreadingHTTPServer):
    """Vulnerability data on 127.0.0.1: GET answers like PyPI's JSON API, POST like OSV.
    It stands in for the outside service, not for anything of ours."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Answer)
        self.pypi_status = 200
        self.pypi_answer: dict[str, Any] = {"vulnerabilities": []}
        self.advisories: dict[str, str] = {}  # package name -> advisory id
        self.hang_up_after: int | None = None  # OSV queries answered, then connections drop
        self.queried: list[str] = []  # the package names OSV was asked about

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = cast(FakeData, self.server)
        self.reply(data.pypi_status, data.pypi_answer if data.pypi_status == 200 else {})

    def do_POST(self) -> None:
        data = cast(FakeData, self.server)
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if data.hang_up_after is not None and len(data.queried) >= data.hang_up_after:
            self.close_connection = True  # no answer at all: the client sees the line drop
            return
        name, version = query["package"]["name"], query["version"]
        data.queried.append(name)
        if name not in data.advisories:
            self.reply(200, {})  # OSV's way of saying "nothing known"
            return
        affected = {
            "package": {"name": name, "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "999"}]}],
        }
        vuln = {"id": data.advisories[name], "summary": f"{name} {version} is broken"}
        self.reply(200, {"vulns": [{**vuln, "affected": [affected]}]})

    def reply(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def data() -> Iterator[FakeData]:
    server = FakeData()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def audit(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    clean.pop("CONFIDE_AUDIT_OSV_URL", None)
    clean["XDG_CACHE_HOME"] = str(tmp_path)  # pip-audit's cache: no answer from another run
    return subprocess.run(
        [sys.executable, str(AUDIT)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_pypi_the_audit_is_skipped_in_one_line(tmp_path: Path) -> None:
    # A bound socket that never listens: every connection to it is refused at once.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
        result = audit(tmp_path, HTTPS_PROXY=proxy, https_proxy=proxy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(SKIPPED.format(host="pypi.org"))
    assert len(result.stdout.splitlines()) == 1 and result.stderr == ""


def test_a_known_vulnerability_fails_the_audit(tmp_path: Path, data: FakeData) -> None:
    data.advisories = {"sqlalchemy": "TEST-2026-0001"}
    result = audit(tmp_path, CONFIDE_AUDIT_OSV_URL=data.url)
    assert result.returncode != 0
    version = locked()["sqlalchemy"][0]
    assert re.search(rf"sqlalchemy\s+{re.escape(version)}\s+TEST-2026-0001", result.stdout)


def test_a_lock_with_nothing_known_passes_after_every_pin_was_asked(
    tmp_path: Path, data: FakeData
) -> None:
    result = audit(tmp_path, CONFIDE_AUDIT_OSV_URL=data.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No known vulnerabilities found" in result.stdout + result.stderr
    first = next(iter(locked()))
    assert sorted(data.queried) == sorted([first, *locked()])  # the probe, then each pin


def test_a_connection_lost_during_the_audit_skips_it(tmp_path: Path, data: FakeData) -> None:
    data.hang_up_after = 1  # the script's probe gets its answer, pip-audit's queries do not
    result = audit(tmp_path, CONFIDE_AUDIT_OSV_URL=data.url)
    assert result.returncode == 0, result.stdout + result.stderr
    host = data.url.removeprefix("http://")
    assert result.stdout.startswith(SKIPPED.format(host=host) + "pip-audit: ")
    assert len(result.stdout.splitlines()) == 1 and result.stderr == ""


def load_script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("audit_deps", str(AUDIT))
    spec = importlib.util.spec_from_loader("audit_deps", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("status", "answer", "reachable"),
    [
        (200, {"info": {}, "vulnerabilities": []}, True),
        # A registry proxy that serves package pages but not a release's JSON: pip-audit
        # would skip every pin and report "No known vulnerabilities found".
        (404, {}, False),
        # Without the list pip-audit reads "none known" for every pin.
        (200, {"info": {}}, False),
    ],
)
def test_pypi_counts_as_reached_only_when_it_serves_vulnerability_data(
    data: FakeData,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    answer: dict[str, Any],
    reachable: bool,
) -> None:
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(variable.upper(), raising=False)
    data.pypi_status, data.pypi_answer = status, answer
    script = load_script()
    monkeypatch.setattr(script, "PYPI_JSON", data.url + "/pypi/{name}/{version}/json")
    reason = script.probe("sqlalchemy", "2.1.9", None)
    assert (reason is None) == reachable, reason
