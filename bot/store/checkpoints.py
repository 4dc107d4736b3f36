"""SQLite: the write-ahead log copied back into the database file off the request path.

Left to itself, SQLite does this in the commit that takes the log past 1,000 pages: that
commit waits for the copy and its fsyncs (tens to hundreds of milliseconds here), and the
person whose update it was sees it. A passive checkpoint every second, on a connection and
a thread of its own, copies the log back without waiting for or blocking anyone. The
bot's own connections then leave it to this (`create_engine(checkpoints_elsewhere=True)`):
their commits take it up again only past BACKSTOP_PAGES (at most one short copy and an
fsync, since most of the log is copied already), where SQLite's 1,000 would have them do
it about once a second under load. Other processes (the CLI) keep SQLite's default."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from bot.store.database import is_sqlite, sqlite_path

EVERY_SECONDS = 1.0


class WalCheckpoints:
    """Passive checkpoints of one SQLite database file; nothing for PostgreSQL or memory."""

    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url) if is_sqlite(url) else None
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def needed(self) -> bool:
        return self.path is not None

    async def run(self) -> tuple[int, int]:
        """One passive checkpoint: (pages in the log, pages now in the database file)."""
        if self.path is None:
            return 0, 0
        return await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> tuple[int, int]:
        assert self.path is not None
        with self._lock:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    self.path, timeout=0, isolation_level=None, check_same_thread=False
                )
            _busy, in_log, copied = self._connection.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
            return int(in_log), int(copied)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
