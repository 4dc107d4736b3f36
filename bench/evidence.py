"""Benchmark: one evidence file through the whole path, against Confide and against the
minimal bot (bench/minimal_bot.py, which only downloads the file to memory and uploads it
back: the floor any bot pays to move the bytes).

    python bench/evidence.py               # a 20 MB PDF and a 12-megapixel JPEG, 3 runs each
    python bench/evidence.py --runs 5

Receive: a reporter at the evidence question sends the file as a document, until the bot's
answer (Confide downloads it, cleans it in a worker thread, encrypts it in 64 KiB chunks and
stores them). Deliver: a responder opens the case (/open; the minimal bot: /deliver), until
the file arrives as a new upload. Peak memory is the bot process's VmHWM, shown as its rise
over the bot's peak before the file (what the file costs) and as the total.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import pikepdf
from harness import enrol
from PIL import ExifTags, Image
from run import SCRIPT, TOKEN, WAIT, bot_process, database_url, peak_memory_mb, wait_ready

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, UserClient
from bot.store.database import create_engine

MB = 1024 * 1024
EVIDENCE_STEP = SCRIPT.index(("click", "Skip"))  # where the script skips the files question


def pdf_of(size: int) -> bytes:
    """A PDF of scanned pages (incompressible images) with its author's name in it."""
    pdf = pikepdf.new()
    pdf.docinfo["/Author"] = "Jane Doe"
    pdf.docinfo["/Creator"] = "Scanner 3000"
    page_bytes = 1_000_000
    for _ in range(size // page_bytes):
        width, height = 1000, page_bytes // 3000
        scan = pikepdf.Stream(pdf, os.urandom(width * height * 3))
        scan.Type, scan.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        scan.Width, scan.Height, scan.BitsPerComponent = width, height, 8
        scan.ColorSpace = pikepdf.Name.DeviceRGB
        pdf.add_blank_page(page_size=(612, 792))
        page = pdf.pages[-1]
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=scan))
        page.Contents = pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def camera_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A 12-megapixel photo with the camera's EXIF and a GPS position, as a phone saves it."""
    noise = Image.effect_noise((width, height), 24)
    gradient = Image.linear_gradient("L").resize((width, height))
    picture = Image.merge("RGB", (noise, gradient, Image.eval(noise, lambda v: 255 - v)))
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "Apple", "iPhone 15"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (52.0, 22.0, 1.5)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "pdf": ("statement.pdf", lambda: pdf_of(19 * MB)),
    "jpeg": ("IMG_2041.jpg", camera_jpeg),
}


@dataclass
class Result:
    receive_s: float
    deliver_s: float
    peak_rise_mb: float  # the bot's peak memory over its peak before the file
    peak_mb: float


async def script(user: UserClient, steps: list[tuple[str, str]]) -> None:
    for kind, value in steps:
        shown = user.last_message
        if shown is not None and "should not see your report" in shown.text:
            await user.click("Skip ⏭")  # Confide asks whom to exclude once a responder exists
            await user.next_message(WAIT)
        await (user.send(value) if kind == "send" else user.click(value))
        await user.next_message(WAIT)
        user.skip_pending()


async def next_file(user: UserClient) -> None:
    while (await user.next_message(WAIT)).kind == "text":
        pass


async def run_once(target: str, name: str, content: bytes) -> Result:
    keyring = Keyring.generate()
    with tempfile.TemporaryDirectory() as tmp:
        async with BotApiEmulator(token=TOKEN, bot_username="confide_bench_bot") as emulator:
            with bot_process(target, emulator, tmp, keyring) as process:
                await wait_ready(emulator)
                responder = None
                if target == "confide":
                    engine = create_engine(database_url(tmp))
                    try:
                        responder = await enrol(emulator, engine, keyring, "Ann")
                    finally:
                        await engine.dispose()
                reporter = emulator.new_user(first_name="Rea", language_code="en")
                await script(reporter, SCRIPT[:EVIDENCE_STEP])
                before = peak_memory_mb(process.pid)

                started = time.perf_counter()
                await reporter.send_document(content, file_name=name)
                answer = await reporter.next_message(WAIT)
                receive = time.perf_counter() - started
                assert "received" in answer.text, answer.text

                if responder is None:
                    started = time.perf_counter()
                    await reporter.send("/deliver")
                    await next_file(reporter)
                else:
                    responder.skip_pending()
                    await script(reporter, [("click", "Done"), *SCRIPT[EVIDENCE_STEP + 1 :]])
                    alert = await responder.next_message(WAIT)
                    case = re.search(r"\bC-[0-9A-Z]{3}-[0-9A-Z]{3}\b", alert.text)  # six symbols
                    assert case, alert.text
                    started = time.perf_counter()
                    await responder.send(f"/open {case.group()}")
                    await next_file(responder)
                deliver = time.perf_counter() - started
                peak = peak_memory_mb(process.pid)
    return Result(receive, deliver, peak - before, peak)


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--targets", nargs="+", default=["minimal", "confide"])
    args = parser.parse_args()
    results: dict[tuple[str, str], list[Result]] = {}
    for label, (name, make) in FILES.items():
        content = make()
        print(f"{label}: {len(content) / MB:.1f} MB", flush=True)
        for run in range(args.runs):
            for target in args.targets:  # interleaved, so drift hits both alike
                result = asyncio.run(run_once(target, name, content))
                results.setdefault((label, target), []).append(result)
                print(
                    f"  run {run + 1} {target:8s} receive {result.receive_s:6.2f} s "
                    f"deliver {result.deliver_s:6.2f} s peak +{result.peak_rise_mb:5.1f} MB "
                    f"({result.peak_mb:5.1f} MB)",
                    flush=True,
                )
    print(f"\nmedian (min-max) of {args.runs} runs")
    print(
        f"{'file':5s} {'bot':8s} {'receive s':>20s} {'deliver s':>20s} "
        f"{'peak rise MB':>20s} {'peak MB':>20s}"
    )
    for (label, target), runs in results.items():
        print(
            f"{label:5s} {target:8s} {summary([r.receive_s for r in runs]):>20s} "
            f"{summary([r.deliver_s for r in runs]):>20s} "
            f"{summary([r.peak_rise_mb for r in runs]):>20s} "
            f"{summary([r.peak_mb for r in runs]):>20s}"
        )
    if set(args.targets) >= {"minimal", "confide"}:
        print("\nConfide / minimal (medians)")
        for label in FILES:
            mine, base = results[(label, "confide")], results[(label, "minimal")]
            ratios = [
                statistics.median(getattr(r, field) for r in mine)
                / statistics.median(getattr(r, field) for r in base)
                for field in ("receive_s", "deliver_s", "peak_rise_mb")
            ]
            print(
                f"{label:5s} receive x{ratios[0]:.2f}   deliver x{ratios[1]:.2f}   "
                f"peak rise x{ratios[2]:.2f}"
            )


if __name__ == "__main__":
    main()
