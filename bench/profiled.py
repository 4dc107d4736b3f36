"""Runs a bot (a module with -m, or a script) under cProfile, counting the CPU time of its
event loop's thread only while told to: SIGUSR1 starts, SIGUSR2 stops and writes the
statistics to OUTPUT (pstats format). bench/run.py --profile uses it around each measured
run; bench/profile_report.py reads the files.

    python bench/profiled.py OUTPUT -m bot run
    python bench/profiled.py OUTPUT bench/minimal_bot.py

The timer is the thread's CPU clock, not the wall clock: a sampling profiler on a busy
machine also counts the time a thread waits to be scheduled, and waiting coroutines would
count as busy."""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time
from types import FrameType


def main() -> None:
    output, *command = sys.argv[1:]
    profiler = cProfile.Profile(time.thread_time)

    def start(_signal: int, _frame: FrameType | None) -> None:
        profiler.enable()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        profiler.disable()
        profiler.dump_stats(output)

    # Python runs signal handlers in the main thread: the one the event loop runs in.
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    if command[0] == "-m":
        sys.argv = command[1:]
        runpy.run_module(command[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = command
        runpy.run_path(command[0], run_name="__main__")


if __name__ == "__main__":
    main()
