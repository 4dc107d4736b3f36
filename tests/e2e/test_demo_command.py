"""`confide demo` as a visitor runs it: its page's API over HTTP, the first words said once
the page has chosen a language, `--keep DIR` continuing where it was, a port in use answered
with one line, and Ctrl+C ending it cleanly."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from databases import POSTGRES_URL
from demo_run import free_port, running_demo
from harness import REPO

pytestmark = pytest.mark.skipif(
    bool(POSTGRES_URL), reason="the demo runs on its own SQLite database: tested once"
)
WAIT = 20.0


async def get(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def post(url: str, body: Any) -> Any:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def say_and_read(base: str, user_id: int, text: str) -> str:
    """Send as that person; the bot's next answer's text."""
    before = len((await get(f"{base}/api/chats/{user_id}"))["messages"])
    async with aiohttp.ClientSession() as http:
        sent = await http.post(f"{base}/api/chats/{user_id}/send", json={"text": text})
        assert sent.status == 200
    for _ in range(int(WAIT * 10)):
        messages = (await get(f"{base}/api/chats/{user_id}"))["messages"]
        answers = [m for m in messages[before:] if m["from"] == "bot"]
        if answers:
            return str(answers[0]["text"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no answer to {text!r}")


async def test_keep_continues_with_the_same_people_keys_database_and_clock(
    tmp_path: Path,
) -> None:
    kept, port = tmp_path / "demo", free_port()
    with running_demo(port, "--keep", str(kept)) as base:
        people = {p["role"]: p["user_id"] for p in await get(f"{base}/api/people")}
        # Nobody has said anything until the page says which language they speak.
        for user_id in people.values():
            assert not (await get(f"{base}/api/chats/{user_id}"))["messages"]
        await post(f"{base}/api/language", {"language_code": "en"})
        admin_chat = (await get(f"{base}/api/chats/{people['admin']}"))["messages"]
        assert any("Welcome, Ada" in m["text"] for m in admin_chat)
        reporter_chat = (await get(f"{base}/api/chats/{people['reporter']}"))["messages"]
        assert [m["text"] for m in reporter_chat if m["from"] == "user"] == ["/start"]
        assert "open cases" in (await say_and_read(base, people["admin"], "/queue")).lower()
        async with aiohttp.ClientSession() as http:
            await http.post(f"{base}/api/clock/skip-day")
        moved = (await get(f"{base}/api/clock"))["now"]
    assert {p.name for p in kept.iterdir()} >= {"confide.db", "confide.keys", "config.toml"}
    assert oct((kept / "confide.keys").stat().st_mode & 0o777) == "0o600"

    with running_demo(port, "--keep", str(kept)) as base:
        again = {p["role"]: p["user_id"] for p in await get(f"{base}/api/people")}
        assert again == people
        # Enrolled once: no new codes, and the admin is still an admin to the bot.
        await post(f"{base}/api/language", {"language_code": "en"})
        assert not (await get(f"{base}/api/chats/{people['admin']}"))["messages"]
        assert "open cases" in (await say_and_read(base, people["admin"], "/queue")).lower()
        assert (await get(f"{base}/api/clock"))["now"][:10] == moved[:10]


async def test_without_keep_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    with running_demo(free_port(), tmp=tmp_path) as base:
        assert len(await get(f"{base}/api/people")) == 3
        assert list(tmp_path.iterdir()), "the demo keeps its data in a temporary folder"
    assert list(tmp_path.iterdir()) == []


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "demo", "--port", str(port)],
            cwd=REPO,
            env={**os.environ, "TMPDIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr == (
        f"confide: port {port} is in use on 127.0.0.1: choose another with --port.\n"
    )
    assert list(tmp_path.iterdir()) == []
