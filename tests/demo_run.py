"""`confide demo` started as a visitor starts it, as a subprocess, and stopped with Ctrl+C,
which must end it with nothing printed after its one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import REPO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_demo(port: int, *options: str, tmp: Path | None = None) -> Iterator[str]:
    """The page's address while `confide demo` runs; `tmp` is its TMPDIR."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **({"TMPDIR": str(tmp)} if tmp else {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--port", str(port), *options],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    try:
        assert first.startswith(f"Confide demo: open http://127.0.0.1:{port}/"), first
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and rest == "", rest  # one line in all, nothing after
