"""Every mistake an operator can make at start-up gets one line: what is wrong and what to do,
a non-zero exit code, no traceback and no secret. Each runs `python -m bot` for real."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import REPO

TOKEN = "424242:SECRET-TOKEN-never-printed"
PASSWORD = "pw-SECRET-never-printed"
POSTGRES = "127.0.0.1:5432"


def confide(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=home,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CONFIDE_CONFIG": str(home / "config.toml"),
            "CONFIDE_TELEGRAM_TOKEN": TOKEN,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The operator's whole answer: one line on stderr, nothing secret, exit code 2."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("confide: "), output
    assert "Traceback" not in output
    for secret in (TOKEN, TOKEN.split(":")[1], PASSWORD):
        assert secret not in output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder `confide init` set up, once: its files name nothing outside it (the database
    and the key file are relative to the folder), so each test takes a copy."""
    folder = tmp_path_factory.mktemp("initialised")
    made = subprocess.run(
        [sys.executable, "-m", "bot", "init"],
        cwd=folder,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CONFIDE_CONFIG": str(folder / "config.toml"),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert made.returncode == 0
    assert sorted(p.name for p in folder.iterdir()) == ["confide.keys", "config.toml"]
    return folder


@pytest.fixture
def home(initialised: Path, tmp_path: Path) -> Path:
    for made in initialised.iterdir():
        shutil.copy2(made, tmp_path / made.name)  # their mode too: owner only
    return tmp_path


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: a network that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/bot"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return False
    return True


# -- Telegram at start-up ------------------------------------------------------------------


def test_network_down(home: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/bot"
    one_clear_line(
        confide("run", home=home, CONFIDE_TELEGRAM_BASE_URL=url), "cannot connect to Telegram"
    )


def test_dns_failure(home: Path) -> None:
    url = "http://telegram.invalid/bot"
    one_clear_line(confide("run", home=home, CONFIDE_TELEGRAM_BASE_URL=url), "DNS")


def test_timeout(home: Path, silent_server: str) -> None:
    result = confide("run", home=home, CONFIDE_TELEGRAM_BASE_URL=silent_server)
    one_clear_line(result, "did not answer in time")


async def test_invalid_token(home: Path) -> None:
    from bot.devserver import BotApiEmulator

    async with BotApiEmulator() as emulator:  # it knows its own token only
        result = await _in_thread("run", home=home, CONFIDE_TELEGRAM_BASE_URL=emulator.base_url)
    one_clear_line(result, "Telegram refused the bot token")


async def _in_thread(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import asyncio

    return await asyncio.to_thread(confide, *args, home=home, **env)


# -- the database URL ----------------------------------------------------------------------

BAD_URLS = [
    pytest.param(
        f"postgresql://confide:{PASSWORD}@{POSTGRES}/confide",
        "must name the asyncpg driver",
        id="postgresql-without-asyncpg",
    ),
    pytest.param(
        f"postgres://confide:{PASSWORD}@{POSTGRES}/confide",
        "postgresql+asyncpg://confide:***@",
        id="postgres-scheme",
    ),
    pytest.param(
        "sqlite:///confide.db", "sqlite+aiosqlite:///confide.db", id="sqlite-without-aiosqlite"
    ),
    pytest.param(
        "sqlite+aiosqlite:////proc/no/such/folder/confide.db",
        "folder must exist and be writable",
        id="unwritable-path",
    ),
    pytest.param("confide.db", "is not one Confide can read", id="not-a-url"),
    pytest.param("sqlite+aiosqlite://:::/x", "is not one Confide can read", id="unparsable"),
    pytest.param(
        f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:{closed_port()}/postgres",
        "connection refused",
        id="connection-refused",
    ),
]


@pytest.mark.parametrize(("url", "said"), BAD_URLS)
def test_bad_database_urls(home: Path, url: str, said: str) -> None:
    for command in ("run", "migrate"):
        one_clear_line(confide(command, home=home, CONFIDE_DATABASE_URL=url), said)


def test_asyncpg_missing(home: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    hidden = tmp_path_factory.mktemp("without_asyncpg")
    (hidden / "asyncpg").mkdir()
    (hidden / "asyncpg" / "__init__.py").write_text('raise ImportError("not installed")\n')
    url = f"postgresql+asyncpg://postgres@{POSTGRES}/postgres"
    result = confide(
        "run", home=home, CONFIDE_DATABASE_URL=url, PYTHONPATH=f"{hidden}{os.pathsep}{REPO}"
    )
    one_clear_line(result, "pip install 'confide[postgres]'")


@pytest.mark.skipif(not postgres_running(), reason="needs PostgreSQL on 127.0.0.1:5432")
def test_database_missing(home: Path) -> None:
    url = f"postgresql+asyncpg://postgres:{PASSWORD}@{POSTGRES}/no_such_confide_db"
    one_clear_line(
        confide("run", home=home, CONFIDE_DATABASE_URL=url), "'no_such_confide_db' does not exist"
    )


# -- the schema and the keys ---------------------------------------------------------------


def test_a_schema_newer_than_the_code(home: Path) -> None:
    assert confide("migrate", home=home).returncode == 0
    with sqlite3.connect(home / "confide.db") as database:
        database.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    for command in ("run", "migrate"):
        one_clear_line(confide(command, home=home), "newer version of Confide", "0099")


def test_a_lost_key_file_with_nothing_to_lose_is_replaced_by_init_keys(home: Path) -> None:
    assert confide("migrate", home=home).returncode == 0
    (home / "confide.keys").unlink()
    one_clear_line(confide("tick", home=home), "holds nothing yet", "confide init --keys")
    made = confide("init", "--keys", home=home)
    assert made.returncode == 0, made.stderr
    assert (home / "confide.keys").stat().st_mode & 0o777 == 0o600
    assert confide("tick", home=home).returncode == 0
    verified = confide("audit", "verify", home=home)
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_a_lost_key_file_with_reports_must_be_restored(home: Path) -> None:
    from world import file_report, make_world

    from bot.crypto import Keyring
    from bot.store.database import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{home / 'confide.db'}")
    try:
        service, _ = await make_world(engine, Keyring.from_file(home / "confide.keys"))
        await file_report(service)
    finally:
        await engine.dispose()
    (home / "confide.keys").unlink()
    said = one_clear_line(await _in_thread("run", home=home), "holds 1 report", "restore")
    assert "lost" in said
    refused = await _in_thread("init", "--keys", home=home)
    one_clear_line(refused, "holds 1 report", "restore the key file from its backup")
    assert not (home / "confide.keys").exists()
