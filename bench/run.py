"""Benchmark: N simulated reporters file the whole default questionnaire through the
emulator, against Confide and against a minimal in-memory ConversationHandler bot.

    python bench/run.py                  # 1, 50 and 200 reporters, 3 runs each
    python bench/run.py --users 50 --runs 5
    BENCH_TARGETS="minimal minimal-aiohttp confide" python bench/run.py

The baseline, `minimal`, is python-telegram-bot as it comes (httpx); `minimal-aiohttp` is
the same bot on Confide's transport (bot/telegram/transport.py), to show what that alone is
worth; ratios are against `minimal`.

Each bot runs as its own OS process (as in production); the emulator and the simulated
reporters share this process. Prints throughput (updates handled per second), reply latency
as the reporter sees it (p50/p99), the bot's peak memory (VmHWM) and its CPU time per user
action (the bot process's CPU time over the measured run, summed over its threads to the
nanosecond, divided by the reporters' actions it answered), each as the median of the
runs with the spread (min-max), then Confide's ratios to the baseline.

    python bench/run.py --users 50 --runs 1 --profile /tmp/prof

With --profile, each bot runs under cProfile (bench/profiled.py), counting its event loop's
CPU time over the measured run only, and writes the statistics to the folder, one file per
run; bench/profile_report.py sums them. Profiling slows the bot: its figures are not comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, UserClient

TARGETS = os.environ.get("BENCH_TARGETS", "minimal confide").split()
TOKEN = "123456:BENCH-TOKEN"
WAIT = 120.0

# One reporter's whole conversation: ("send", text) or ("click", button label).
SCRIPT: list[tuple[str, str]] = [
    ("send", "/start"),
    ("click", "Make a report"),
    ("click", "Sexual harassment"),
    ("send", "2026-08-02"),
    ("click", "Several times"),
    ("click", "At the office"),
    ("send", "He cornered me after the meeting and would not let me leave the room."),
    ("click", "My manager"),
    ("click", "Done"),
    ("send", "A. Manager, regional sales"),
    ("click", "Yes"),
    ("send", "B. Witness from accounting"),
    ("click", "Skip"),  # no evidence files (bench/evidence.py measures those)
    ("click", "No"),
    ("click", "I am safe now"),
    ("click", "An investigation"),
    ("click", "Done"),
    ("click", "Only through this bot"),
    ("click", "Send report"),
]


@dataclass
class Result:
    throughput: float
    p50_ms: float
    p99_ms: float
    peak_mb: float
    bot_cpu: float  # share of one core used by the bot process
    cpu_ms: float  # the bot's CPU milliseconds per user action
    harness_cpu: float  # ... and by the emulator with the simulated reporters


async def reporter(user: UserClient, latencies: list[float]) -> None:
    for kind, value in SCRIPT:
        started = time.perf_counter()
        if kind == "send":
            await user.send(value)
        else:
            await user.click(value)
        await user.next_message(WAIT)
        latencies.append(time.perf_counter() - started)
        # The reporter reads every reply of this step before acting again.
        user.skip_pending()


def cpu_seconds(pid: int) -> tuple[float, frozenset[str]]:
    """The CPU time of the process's threads, to the nanosecond (each thread's schedstat;
    /proc/<pid>/stat counts clock ticks, 10 ms, too coarse for a run of 19 actions), and
    which threads they were: a thread that ended between two reads would take its time
    with it, so a run compares only if the set is the same."""
    total, threads = 0, []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            total += int((task / "schedstat").read_text().split()[0])
            threads.append(task.name)
    return total / 1e9, frozenset(threads)


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def bot_process(
    target: str,
    emulator: BotApiEmulator,
    folder: str,
    keyring: Keyring,
    profile: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Confide or the minimal bot, as its own process, polling the emulator; its SQLite
    database is `database_url(folder)`."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CONFIDE_CONFIG": str(Path(folder) / "config.toml"),
        "CONFIDE_TELEGRAM_TOKEN": TOKEN,
        "CONFIDE_TELEGRAM_BASE_URL": emulator.base_url,
        "CONFIDE_TELEGRAM_BASE_FILE_URL": emulator.base_file_url,
        "CONFIDE_DATABASE_URL": database_url(folder),
        "CONFIDE_KEYS": keyring.dump(),
        "CONFIDE_LOG_LEVEL": "WARNING",
    }
    Path(env["CONFIDE_CONFIG"]).write_text("[telegram]\npoll_timeout = 10\n")
    command = (
        [sys.executable, "-m", "bot", "run"]
        if target == "confide"
        else [sys.executable, str(REPO / "bench" / "minimal_bot.py")]
    )
    if target == "minimal-aiohttp":
        env["BENCH_TRANSPORT"] = "aiohttp"
    if profile is not None:
        command[1:1] = [str(REPO / "bench" / "profiled.py"), str(profile)]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(30)


def database_url(folder: str) -> str:
    return f"sqlite+aiosqlite:///{folder}/bench.db"


@contextlib.contextmanager
def profiled(process: subprocess.Popen[bytes], output: Path | None) -> Iterator[None]:
    """The bot's event loop profiled while inside (bench/profiled.py), written to `output`."""
    if output is None:
        yield
        return
    output.unlink(missing_ok=True)
    process.send_signal(signal.SIGUSR1)
    try:
        yield
    finally:
        process.send_signal(signal.SIGUSR2)
        for _ in range(200):
            if output.exists():
                break
            time.sleep(0.05)
        time.sleep(0.2)  # written whole


async def run_once(target: str, users: int, profile: Path | None = None) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        async with BotApiEmulator(token=TOKEN, bot_username="confide_bench_bot") as emulator:
            with bot_process(target, emulator, tmp, Keyring.generate(), profile) as process:
                await wait_ready(emulator)
                # One unmeasured reporter first, so both bots are measured warm (imports,
                # first connections, first statements prepared), not on their start-up.
                await reporter(emulator.new_user(first_name="warm-up", language_code="en"), [])
                clients = [
                    emulator.new_user(first_name=f"R{i}", language_code="en") for i in range(users)
                ]
                latencies: list[float] = []
                with profiled(process, profile):
                    started = time.perf_counter()
                    (bot_cpu, threads), harness_cpu = cpu_seconds(process.pid), time.process_time()
                    await asyncio.gather(*(reporter(c, latencies) for c in clients))
                    elapsed = time.perf_counter() - started
                    bot_cpu_after, threads_after = cpu_seconds(process.pid)
                    bot_cpu = bot_cpu_after - bot_cpu
                    harness_cpu = time.process_time() - harness_cpu
                if not threads <= threads_after:
                    print(f"  ({target}: a thread ended during the run: its CPU is missing)")
                peak = peak_memory_mb(process.pid)
    latencies.sort()
    return Result(
        throughput=len(latencies) / elapsed,
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        peak_mb=peak,
        bot_cpu=bot_cpu / elapsed,
        cpu_ms=1000 * bot_cpu / len(latencies),
        harness_cpu=harness_cpu / elapsed,
    )


async def wait_ready(emulator: BotApiEmulator) -> None:
    """Ready once the bot has started long polling."""
    for _ in range(600):
        if emulator.calls_to("getUpdates"):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("bot did not start polling")


def summary(values: list[float], digits: int = 1) -> str:
    median, low, high = statistics.median(values), min(values), max(values)
    return f"{median:8.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="write each run's cProfile statistics here")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, int], list[Result]] = {}
    for users in args.users:
        for run in range(args.runs):
            for target in TARGETS:  # interleaved, so drift hits both alike
                output = args.profile and args.profile / f"{target}-n{users}-run{run + 1}.prof"
                result = asyncio.run(run_once(target, users, output))
                results.setdefault((target, users), []).append(result)
                print(
                    f"  run {run + 1} {target:8s} N={users:<4d} {result.throughput:7.1f} upd/s "
                    f"p50 {result.p50_ms:6.1f} ms p99 {result.p99_ms:7.1f} ms "
                    f"peak {result.peak_mb:5.1f} MB cpu bot {result.bot_cpu:4.0%} "
                    f"({result.cpu_ms:.2f} ms/action) harness {result.harness_cpu:4.0%}",
                    flush=True,
                )
    print(f"\nmedian (min-max) of {args.runs} runs; {len(SCRIPT)} updates per reporter")
    print(
        f"{'bot':8s} {'N':>4s} {'updates/s':>22s} {'p50 ms':>22s} {'p99 ms':>22s} "
        f"{'peak MB':>22s} {'CPU ms/action':>22s}"
    )
    for (target, users), runs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"{target:8s} {users:4d} {summary([r.throughput for r in runs]):>22s} "
            f"{summary([r.p50_ms for r in runs]):>22s} {summary([r.p99_ms for r in runs]):>22s} "
            f"{summary([r.peak_mb for r in runs]):>22s} "
            f"{summary([r.cpu_ms for r in runs], 2):>22s}"
        )
    print(
        "\nConfide / minimal (medians): throughput ratio (target >= 0.7), "
        "p99 ratio (target <= 2), peak MB (target < 150), CPU per action (target <= 1.2)"
    )
    for users in args.users:
        mine, base = results[("confide", users)], results[("minimal", users)]
        throughput = statistics.median(r.throughput for r in mine) / statistics.median(
            r.throughput for r in base
        )
        p99 = statistics.median(r.p99_ms for r in mine) / statistics.median(r.p99_ms for r in base)
        peak = statistics.median(r.peak_mb for r in mine)
        cpu = statistics.median(r.cpu_ms for r in mine) / statistics.median(r.cpu_ms for r in base)
        # Each run's pair ran back to back: their ratio is less moved by the machine's drift.
        paired = " ".join(f"x{m.cpu_ms / b.cpu_ms:.2f}" for m, b in zip(mine, base, strict=True))
        print(
            f"N={users:<4d} throughput x{throughput:.2f}   p99 x{p99:.2f}   peak {peak:.0f} MB"
            f"   CPU/action x{cpu:.2f} (run by run: {paired})"
        )


if __name__ == "__main__":
    main()
