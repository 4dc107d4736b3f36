"""Evidence files: what a file is, and the same file without what it says about who made
it (bot.evidence.cleaning). Pure: bytes in, bytes out, no database, no Telegram, no disk;
CPU-bound, so callers run it in a worker thread."""

from bot.evidence.cleaning import Cleaned, Kind, Unreadable, clean, sniff

__all__ = ["Cleaned", "Kind", "Unreadable", "clean", "sniff"]
