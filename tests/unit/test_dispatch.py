"""The dispatcher: one chat's updates in order, and it knows what it holds (so that the
orphan sweep never queues an update of its own a second time)."""

from __future__ import annotations

import asyncio

from bot.telegram.dispatch import Dispatcher


async def test_a_chats_items_go_in_order_and_what_is_held_is_known() -> None:
    release = asyncio.Event()
    seen: list[str] = []

    all_done = asyncio.Event()

    async def handle(item: str) -> None:
        await release.wait()
        seen.append(item)
        if len(seen) == 3:
            all_done.set()

    dispatcher: Dispatcher[str] = Dispatcher(handle, slots=2)
    for item in ("a1", "a2"):
        dispatcher.submit("a", item)
    dispatcher.submit("b", "b1")
    await asyncio.sleep(0)  # the workers take their first items
    assert dispatcher.holds("a", "a1")  # being handled
    assert dispatcher.holds("a", "a2")  # waiting
    assert not dispatcher.holds("a", "b1") and not dispatcher.holds("c", "a1")
    release.set()
    await asyncio.wait_for(all_done.wait(), 5)
    await asyncio.sleep(0)  # the workers finish their rounds
    assert [i for i in seen if i.startswith("a")] == ["a1", "a2"]
    assert not dispatcher.holds("a", "a1") and not dispatcher.holds("b", "b1")
