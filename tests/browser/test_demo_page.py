"""`confide demo` in a real browser: the command started as a visitor starts it, its page
driven with Playwright in Debian's Chromium (never a browser downloaded from elsewhere), in
English and in Chinese. Screenshots of the three chats at the key moments go to
artifacts/browser/."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from databases import POSTGRES_URL
from demo_run import free_port, running_demo
from harness import REPO
from PIL import Image
from playwright.async_api import Browser, FilePayload, Locator, Page, async_playwright, expect

from bot.devserver.web import STATIC

CHROMIUM = os.environ.get("CONFIDE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CONFIDE_ARTIFACTS", REPO / "artifacts")) / "browser"
WAIT_MS = 20_000
# As the machine's notes advise: no background traffic a closed network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.skipif(
        bool(POSTGRES_URL), reason="the demo runs on its own SQLite database: tested once"
    ),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    """The page's address while `confide demo` runs; Ctrl+C afterwards must end it cleanly
    and delete its temporary data."""
    with running_demo(free_port(), tmp=tmp_path) as url:
        yield f"{url}/"
    assert list(tmp_path.iterdir()) == [], "the demo left its temporary data behind"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


class Chat:
    """One person's chat on the page, used the way a person would."""

    def __init__(self, page: Page, role: str) -> None:
        self.page = page
        self.section = page.locator(f'section[data-role="{role}"]')
        self.messages = self.section.get_by_test_id("message")
        self.from_bot = self.section.locator('[data-testid="message"][data-from="bot"]')

    async def snapshot(self) -> str:
        return await self.section.get_by_test_id("messages").inner_html()

    async def changed_since(self, before: str) -> None:
        """Wait until the bot has answered: the message list is not what it was."""
        handle = await self.section.get_by_test_id("messages").element_handle()
        await self.page.wait_for_function(
            "([list, before]) => list.innerHTML !== before", arg=[handle, before], timeout=WAIT_MS
        )
        await self.page.wait_for_timeout(150)  # the rest of the same answer

    async def press(self, label: str) -> None:
        before = await self.snapshot()
        button = self.section.get_by_test_id("inline-button").filter(has_text=label).last
        await button.click()
        await self.changed_since(before)

    async def say(self, text: str) -> None:
        before = await self.snapshot()
        composer = self.section.get_by_test_id("composer")
        await composer.fill(text)
        await composer.press("Enter")
        await self.changed_since(before)

    async def attach(self, name: str, data: bytes, mime_type: str) -> None:
        before = await self.snapshot()
        await self.section.get_by_test_id("file").set_input_files(
            files=FilePayload(name=name, mimeType=mime_type, buffer=data)
        )
        await self.changed_since(before)

    def last_bot_message(self) -> Locator:
        return self.from_bot.last

    async def shows(self, pattern: str) -> None:
        await expect(self.messages.filter(has_text=re.compile(pattern)).last).to_be_visible(
            timeout=WAIT_MS
        )


def screenshot_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


# The default questionnaire, answered through the buttons and the text box.
REPORT: list[tuple[str, str]] = [
    ("press", "Make a report"),
    ("press", "Sexual harassment"),
    ("say", "2026-11-20"),
    ("press", "Several times"),
    ("press", "At the office"),
    ("say", "He cornered me after the meeting and would not let me leave the room."),
    ("press", "My manager"),
    ("press", "Done"),
    ("say", "A. Manager, regional sales"),
    ("press", "Yes"),
    ("say", "B. Witness from accounting"),
    ("attach", "screenshot.png"),  # with the file picker, at the evidence question
    ("press", "Done"),
    ("press", "No"),
    ("press", "I am safe now"),
    ("press", "An investigation"),
    ("press", "Done"),
]
EXCLUSION = "should not see your report"


async def file_report(reporter: Chat) -> str:
    for action, value in REPORT:
        if action == "attach":
            await reporter.attach(value, screenshot_bytes(), "image/png")
            await reporter.shows(f"File received.*{value}|File received")
        elif action == "press":
            await reporter.press(value)
        else:
            await reporter.say(value)
    while "Please check your report" not in await reporter.last_bot_message().inner_text():
        shown = await reporter.last_bot_message().inner_text()
        await reporter.press("Skip" if EXCLUSION in shown else "Only through this bot")
    await reporter.press("Send report")
    await reporter.shows(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
    await reporter.press("I have saved my code")
    return await reporter.section.inner_text()


async def skip_day(page: Page) -> None:
    before = await page.get_by_test_id("clock").inner_text()
    await page.get_by_test_id("skip-day").click()
    await expect(page.get_by_test_id("clock")).not_to_have_text(before, timeout=WAIT_MS)


async def case_id(chat: Chat) -> str:
    await chat.shows(r"New case C-[0-9A-Z]{3}-[0-9A-Z]{3}")
    alert = await chat.messages.filter(has_text="New case").last.inner_text()
    found = re.search(r"\bC-[0-9A-Z]{3}-[0-9A-Z]{3}\b", alert)
    assert found, alert
    return found.group()


async def test_a_report_is_filed_claimed_answered_and_not_ignored(
    demo: str, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="en-GB")
    await page.goto(demo)
    reporter, responder, admin = (Chat(page, role) for role in ("reporter", "responder", "admin"))
    await responder.shows("Welcome, Dan")
    await admin.shows("Welcome, Ada")
    await reporter.shows("Make a report")
    await screenshot(page, "1-start")

    await file_report(reporter)
    case = await case_id(responder)
    await case_id(admin)
    await screenshot(page, "2-report-filed")

    # Nobody claims it: a day later the responders are reminded, a day after that the
    # admins are told (the demo gives 2 days to claim a case).
    await skip_day(page)
    await responder.shows(rf"Case {case} is still unclaimed")
    await screenshot(page, "3-a-day-later-reminded")
    await skip_day(page)
    await admin.shows(rf"Escalated: case {case} was not acknowledged in time")
    await reporter.shows(rf"Your case {case} was passed to senior staff")
    await screenshot(page, "4-two-days-later-escalated")

    await responder.press("Claim")
    await responder.press("Open")  # the report, then its evidence as a new upload
    evidence = responder.section.locator('[data-from="bot"] img').last
    await expect(evidence).to_be_attached(timeout=WAIT_MS)
    await evidence.scroll_into_view_if_needed()
    await expect(evidence).to_be_visible(timeout=WAIT_MS)
    assert await evidence.evaluate("img => img.naturalWidth") == 320  # the cleaned picture
    await responder.shows(rf"(claimed|You took) .*{case}|{case}.*claimed")
    await responder.say(f"/reply {case} Thank you for telling us. Can we talk on Monday?")
    await reporter.shows("A responder wrote about your case")
    await reporter.shows("Can we talk on Monday")
    await reporter.press("Reply")
    await reporter.say("Yes, Monday morning is fine.")
    await responder.shows(rf"The reporter of case {case} wrote a message")  # never its words
    await responder.press("Open")
    await responder.shows("Monday morning is fine")
    await screenshot(page, "5-reply-and-answer")

    await admin.say("/queue")
    await admin.shows(case)
    await screenshot(page, "6-admin-overview")

    await page.get_by_test_id("database-toggle").click()
    panel = page.get_by_test_id("database")
    await expect(panel).to_contain_text("cases", timeout=WAIT_MS)
    await expect(panel).to_contain_text("bytes")
    held = await panel.inner_text()
    for secret in ("cornered", "Manager", "Witness", "Monday", "Rea"):
        assert secret not in held, f"{secret!r} is readable in the database panel"
    await screenshot(page, "7-what-the-database-holds")


async def test_the_page_works_at_phone_width_and_by_keyboard(demo: str, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="en-GB")
    await page.goto(demo)
    reporter = Chat(page, "reporter")
    await reporter.shows("Make a report")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390"

    # Every control on the page can be reached with Tab alone.
    controls = page.locator("button:visible, input:visible, textarea:visible, select:visible")
    wanted = {
        await control.evaluate("e => e.dataset.testid || e.getAttribute('aria-label') || e.id")
        for control in await controls.all()
    }
    reached: set[str] = set()
    for _ in range(4 * len(wanted) + 20):
        await page.keyboard.press("Tab")
        reached.add(
            await page.evaluate(
                "() => { const e = document.activeElement;"
                " return e.dataset.testid || e.getAttribute('aria-label') || e.id }"
            )
        )
    missing = {name for name in wanted if name} - reached
    assert not missing, f"not reachable by keyboard: {missing}"

    # ... and used with it: a button pressed with Enter, a message typed and sent.
    make = reporter.section.get_by_test_id("inline-button").filter(has_text="Make a report")
    await make.focus()
    before = await reporter.snapshot()
    await page.keyboard.press("Enter")
    await reporter.changed_since(before)
    await reporter.shows("Question 1/")
    await reporter.section.get_by_test_id("composer").focus()
    await page.keyboard.type("/help")
    await page.keyboard.press("Enter")
    await reporter.shows("What I can do")
    await screenshot(page, "8-phone-width")


# The page's own words, as app.js shows them: what an English page would say, where a
# Chinese one must not (names, codes and numbers aside, as test_page_strings checks).
STRINGS: dict[str, dict[str, str]] = json.loads(
    (STATIC / "strings.json").read_text(encoding="utf-8")
)
CHROME_TEXT = """() => {
  const words = [document.title];
  const outside = (node) => !node.closest('[data-testid="messages"], .menu-popup');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (outside(node.parentElement) && node.parentElement.closest("[hidden]") === null) {
      words.push(node.textContent);
    }
  }
  for (const node of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
    if (!outside(node)) continue;
    for (const name of ["aria-label", "placeholder", "title"]) {
      if (node.hasAttribute(name)) words.push(node.getAttribute(name));
    }
  }
  return words.join("\\n");
}"""


def english_left_in(chrome: str) -> list[str]:
    """The English page's words (each piece between placeholders) found in `chrome`."""
    found = []
    for key, text in STRINGS["en"].items():
        if key.startswith("meta.") or text == STRINGS["zh-Hans"][key]:
            continue
        for piece in re.split(r"\{\w+\}", text):
            if len(piece.strip(" ():…")) >= 3 and piece in chrome:
                found.append(f"{key}: {piece!r}")
    return found


async def test_a_chinese_browser_gets_the_page_and_the_bot_in_chinese_and_can_switch(
    demo: str, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(demo)
    reporter, responder, admin = (Chat(page, role) for role in ("reporter", "responder", "admin"))
    # The page's first visit chose Chinese: the staff enrol in it, the reporter is greeted in it.
    await responder.shows("欢迎，Dan")
    await admin.shows("欢迎，Ada")
    await reporter.shows("开始举报")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    await expect(page).to_have_title("Confide 演示")
    await expect(page.get_by_test_id("skip-day")).to_have_text("快进 1 天")
    await expect(page.get_by_test_id("database-toggle")).to_have_text("查看数据库里存了什么")
    await expect(reporter.section.locator("h2")).to_have_text("Rea（举报人）")
    await expect(reporter.section.get_by_test_id("composer")).to_have_attribute(
        "placeholder", "消息"
    )
    await expect(page.get_by_test_id("language-zh-Hans")).to_have_attribute("aria-pressed", "true")
    chrome = await page.evaluate(CHROME_TEXT)
    assert not english_left_in(chrome), english_left_in(chrome)

    await reporter.say("/start")
    await expect(reporter.last_bot_message()).to_contain_text("安全地举报", timeout=WAIT_MS)
    await reporter.section.get_by_test_id("menu").click()  # the bot's menu, in Chinese too
    await expect(reporter.section.locator(".menu-popup")).to_contain_text("开始举报或继续填写")
    await screenshot(page, "9-chinese")

    # The switch, in the corner: the page and the bot's next answers are English ...
    await page.get_by_test_id("language-en").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_test_id("skip-day")).to_have_text("Skip 1 day")
    await expect(reporter.section.locator("h2")).to_have_text("Rea (reporter)")
    await expect(page.get_by_test_id("language-en")).to_have_attribute("aria-pressed", "true")
    await expect(page.get_by_test_id("language-en")).to_be_focused()
    await reporter.shows("开始举报")  # what was said stays said
    await reporter.say("/start")
    await expect(reporter.last_bot_message()).to_contain_text(
        "a safe way to report", timeout=WAIT_MS
    )
    await screenshot(page, "10-switched-to-english")

    # ... and stay so: the choice is remembered over the browser's language.
    await page.reload()
    await expect(page.get_by_test_id("skip-day")).to_have_text("Skip 1 day")
    await expect(page).to_have_title("Confide demo")
    await responder.say("/help")
    await expect(responder.last_bot_message()).to_contain_text("queue", timeout=WAIT_MS)
    assert not re.search("[\u4e00-\u9fff]", await responder.last_bot_message().inner_text())
    await context.close()
