"""Responders' lists (/queue, /mine, /overdue) a page at a time: every case a responder may
see exactly once, in order, forwards and backwards; and a page's work (case rows read,
exclusion lists opened) is the same with 30 open cases as with 630."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from many_cases import Seeded, responder_id, seed_cases
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine
from world import ADA, ANN, BEN, T0, Clock, send

from bot.crypto import CaseKey, Keyring
from bot.services.conversation import ConversationService
from bot.services.listing import PAGE_SIZE
from bot.services.protocol import Command, ResponderButton, Say, ShowQueue
from bot.store.models import Case


async def show(service: ConversationService, chat: int, kind: str, argument: str) -> ShowQueue:
    """Press a list's button (`argument` is what it carries) and get the page."""
    (page,) = await send(service, ResponderButton(kind, argument), chat)
    assert isinstance(page, ShowQueue)
    return page


async def walk(service: ConversationService, chat: int, kind: str) -> list[list[str]]:
    """Every page of a list by its Next buttons, then back to the first by Previous, which
    must show the same pages again."""
    (first,) = await send(service, Command(kind), chat)
    assert isinstance(first, ShowQueue) and first.page == 1 and first.previous is None
    pages = [first]
    while pages[-1].next is not None:
        following = await show(service, chat, kind, pages[-1].next)
        assert following.page == pages[-1].page + 1
        pages.append(following)
    back = pages[-1]
    for expected in reversed(pages[:-1]):
        assert back.previous is not None
        back = await show(service, chat, kind, back.previous)
        assert (back.page, back.items) == (expected.page, expected.items)
    assert back.previous is None
    return [[item.short_id for item in p.items] for p in pages]


def flat(pages: list[list[str]]) -> list[str]:
    return [short_id for page in pages for short_id in page]


def ids(cases: list[Seeded]) -> list[str]:
    return [c.short_id for c in cases]


async def test_every_case_a_responder_may_see_is_listed_once_in_order(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    clock.now = T0 + timedelta(days=1)
    ben = await responder_id(engine, keyring, BEN)
    # Ben is excluded from every third case, and from a run of 20 (more than a page of
    # cases he may not see, between ones he may).
    hidden = {i for i in range(100) if i % 3 == 0 or 40 <= i < 60}
    cases = await seed_cases(
        engine, keyring, 100, T0, excluded=lambda i: [ben] if i in hidden else []
    )
    ann_pages = await walk(service, ANN, "queue")
    assert flat(ann_pages) == ids(cases)
    assert all(len(p) == PAGE_SIZE for p in ann_pages[:-1])
    ben_pages = await walk(service, BEN, "queue")
    assert flat(ben_pages) == [c.short_id for c in cases if c.number not in hidden]
    assert all(len(p) == PAGE_SIZE for p in ben_pages[:-1])
    # A page typed by number is the same page.
    (third,) = await send(service, Command("queue", "3"), BEN)
    assert isinstance(third, ShowQueue) and [i.short_id for i in third.items] == ben_pages[2]
    (past_the_end,) = await send(service, Command("queue", "999"), BEN)
    assert isinstance(past_the_end, ShowQueue) and past_the_end.page == len(ben_pages)
    assert past_the_end.next is None


async def test_an_excluded_responder_never_sees_the_case_on_any_page(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    """The attack: Ben (and Ada, an admin, on /overdue) page through every list, by
    buttons, by typed page numbers and from positions they forged next to each case,
    looking for the cases whose reporter excluded them."""
    service, clock = world
    clock.now = T0 + timedelta(days=1)
    ben, ada = await responder_id(engine, keyring, BEN), await responder_id(engine, keyring, ADA)
    secret = {0, 5, 6, 7, 30, 39}
    cases = await seed_cases(
        engine, keyring, 40, T0, excluded=lambda i: [ben, ada] if i in secret else [], late=True
    )
    hidden = {c.short_id for c in cases if c.number in secret}
    for chat, kind in ((BEN, "queue"), (BEN, "mine"), (ADA, "queue"), (ADA, "overdue")):
        seen = set(flat(await walk(service, chat, kind)))
        for number in range(1, 8):
            (page,) = await send(service, Command(kind, str(number)), chat)
            assert isinstance(page, ShowQueue)
            seen |= {i.short_id for i in page.items}
        for case in cases:  # forged positions just before and just after each case
            minute = int((T0 + timedelta(minutes=case.number // 3)).timestamp()) // 60
            for forged in (f">{minute}.{case.short_id[:-1]}", f"<{minute}.{case.short_id}Z"):
                page = await show(service, chat, kind, f"2:{forged}")
                seen |= {i.short_id for i in page.items}
        assert not seen & hidden, f"an excluded person saw the case on /{kind}"
        if kind != "mine":
            assert seen == set(ids(cases)) - hidden


async def test_forged_or_odd_positions_are_a_first_page_never_an_error(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, _ = world
    cases = await seed_cases(engine, keyring, 20, T0)
    for argument in ("", "x", "2:", "2:>", "2:>x.C-1", "2:?1.C-1", "2:>99999999999999999.C-1"):
        page = await show(service, ANN, "queue", argument)
        assert page.items, argument
    late = await show(service, ANN, "queue", "2:>99999999.C-0000")  # after every case
    assert (late.page, [i.short_id for i in late.items]) == (1, ids(cases)[:PAGE_SIZE])


async def test_a_page_starts_where_the_last_ended_even_if_that_case_closed(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, _ = world
    cases = ids(await seed_cases(engine, keyring, 20, T0))
    (first,) = await send(service, Command("queue"), ANN)
    assert isinstance(first, ShowQueue) and first.next is not None
    async with engine.begin() as connection:
        await connection.execute(
            update(Case).where(Case.short_id == cases[PAGE_SIZE - 1]).values(status="closed")
        )
    second = await show(service, ANN, "queue", first.next)
    assert [i.short_id for i in second.items] == cases[PAGE_SIZE : 2 * PAGE_SIZE]


async def test_mine_lists_only_my_cases_and_overdue_only_late_ones_for_admins(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    clock.now = T0 + timedelta(days=2)
    ann = await responder_id(engine, keyring, ANN)
    mine = await seed_cases(engine, keyring, 19, T0, claimed_by=ann, status="investigating")
    late = await seed_cases(engine, keyring, 21, T0 + timedelta(hours=1), late=True)
    await seed_cases(engine, keyring, 12, T0 + timedelta(hours=2))  # neither
    assert flat(await walk(service, ANN, "mine")) == ids(mine)
    assert flat(await walk(service, ADA, "overdue")) == ids(late)
    assert await send(service, Command("overdue"), ANN) == (Say("unknown_command"),)
    assert await send(service, ResponderButton("overdue", "2:>1.C-0000"), ANN) == (
        Say("notice_stale_button"),
    )


@dataclass
class Work:
    rows: int = 0  # case rows read from the database
    opened: int = 0  # exclusion lists decrypted


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    """Counts every case row the ORM loads and every exclusion list opened."""
    work = Work()

    def loaded(target: Case, context: Any) -> None:
        work.rows += 1

    opening = CaseKey.open_exclusions

    def counted_opening(self: CaseKey, sealed: bytes | None) -> frozenset[Any]:
        work.opened += 1
        return opening(self, sealed)

    monkeypatch.setattr(CaseKey, "open_exclusions", counted_opening)
    event.listen(Case, "load", loaded)
    try:
        yield work
    finally:
        event.remove(Case, "load", loaded)
        monkeypatch.setattr(CaseKey, "open_exclusions", opening)


async def page_work(
    service: ConversationService, monkeypatch: pytest.MonkeyPatch, chat: int, argument: str
) -> tuple[Work, ShowQueue]:
    with counting(monkeypatch) as work:
        page = await show(service, chat, "queue", argument)
    return work, page


async def test_a_pages_work_does_not_grow_with_the_number_of_open_cases(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, clock = world
    clock.now = T0 + timedelta(days=30)
    ben = await responder_id(engine, keyring, BEN)
    # Ben is excluded from 2 of the first 9 cases (minutes 0 to 2).
    await seed_cases(engine, keyring, 30, T0, excluded=lambda i: [ben] if i in (2, 5) else [])
    small_ann, first = await page_work(service, monkeypatch, ANN, "")
    assert first.next is not None
    small_next, _ = await page_work(service, monkeypatch, ANN, first.next)
    small_ben, _ = await page_work(service, monkeypatch, BEN, "")

    # 600 more open cases, all after the first 30 in the list.
    await seed_cases(engine, keyring, 600, T0 + timedelta(days=1))
    large_ann, again = await page_work(service, monkeypatch, ANN, "")
    assert again.items == first.items
    large_next, _ = await page_work(service, monkeypatch, ANN, first.next)
    large_ben, _ = await page_work(service, monkeypatch, BEN, "")

    # A page reads its cases and one more (is there a next page?); Ben's page, the cases
    # hidden from him among them as well. Nothing else, however many cases are open.
    assert (small_ann.rows, small_ann.opened) == (PAGE_SIZE + 1, PAGE_SIZE + 1)
    assert small_next == small_ann
    assert (small_ben.rows, small_ben.opened) == (PAGE_SIZE + 1 + 2, PAGE_SIZE + 1 + 2)
    assert (large_ann, large_next, large_ben) == (small_ann, small_next, small_ben)
