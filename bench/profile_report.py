"""Sums the profiles `bench/run.py --profile DIR` wrote: where a bot's CPU went.

    python bench/profile_report.py DIR/confide-n50-run*.prof [--top 25]

Prints, in CPU milliseconds per user action (with --actions, the actions the runs answered)
or else as shares of the total: the functions by own time, by cumulative time (a coroutine
counts while it runs, not while it waits), and own time by library or Confide package.
"""

from __future__ import annotations

import argparse
import collections
import pstats
import re
from pathlib import Path
from typing import Any

REPO = str(Path(__file__).resolve().parent.parent) + "/"


def short(file: str) -> str:
    """A file's path from its library's folder, or from the repository."""
    if file.startswith(REPO):
        return file[len(REPO) :]
    return re.sub(r"^.*(site-packages|python3\.\d+)/", "", file)


def package(file: str) -> str:
    """The library (or Confide package) a file belongs to."""
    if file == "~":
        return "(built-in functions)"
    parts = short(file).removesuffix(".py").split("/")
    if parts[0] == "bot" and len(parts) > 1:
        return "bot." + parts[1]
    return parts[0] if len(parts) > 1 else "python: " + parts[0]


def name(function: tuple[str, int, str]) -> str:
    file, line, label = function
    return label if file == "~" else f"{label} ({short(file)}:{line})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--actions", type=int, help="user actions the runs answered, in all")
    args = parser.parse_args()
    stats: Any = pstats.Stats(*map(str, args.files))
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats
    total = stats.total_tt

    def shown(seconds: float) -> str:
        if args.actions:
            return f"{1000 * seconds / args.actions:7.3f} ms"
        return f"{100 * seconds / total:5.1f}%"

    own = sorted(entries.items(), key=lambda kv: -kv[1][2])
    cumulative = sorted(entries.items(), key=lambda kv: -kv[1][3])
    packages: collections.Counter[str] = collections.Counter()
    for function, (_, _, tottime, _, _) in entries.items():
        packages[package(function[0])] += tottime
    unit = "ms per action" if args.actions else "share of the total"
    print(f"{total:.3f} s of CPU in {len(args.files)} file(s); {unit}")
    print("\nown time (calls):")
    for function, (_, calls, tottime, _, _) in own[: args.top]:
        print(f"  {shown(tottime)}  {name(function)} ({calls})")
    print("\ncumulative time:")
    for function, (_, _, _, cumtime, _) in cumulative[: args.top]:
        print(f"  {shown(cumtime)}  {name(function)}")
    print("\nown time by package:")
    for label, seconds in packages.most_common(args.top):
        print(f"  {shown(seconds)}  {label}")


if __name__ == "__main__":
    main()
