"""A second bot process for race tests: it plays a list of events, each at its own moment,
against the database, through the real conversation service, and prints what each got.

    python tests/actor.py PLAN.json  (PLAN: {"database": url, "keys": text, "events": [...]})

Once it is up it prints {"ready": true} and reads the moment to start (epoch seconds) from
stdin: the test starts the race when both actors are up, however long that took. Each event
is {"after": seconds from the start, "chat": id, "command": [name, argument]} or
{"after": ..., "chat": ..., "button": [action, case]}; each result line is JSON:
{"index": n, "said": [catalogue keys of the replies]}."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from itertools import count
from typing import Any

from bot.crypto import Keyring
from bot.intake.flow import Intake
from bot.intake.questionnaire import load_questionnaire
from bot.services.conversation import ConversationService
from bot.services.protocol import CaseButton, Command, Event, Incoming, Say
from bot.store.database import create_engine, session_factory

updates = count(10**9 + int(time.time() * 1000) % 10**6 * 1000)


def event_of(step: dict[str, Any]) -> Event:
    if "command" in step:
        name, argument = step["command"]
        return Command(name, argument)
    action, case = step["button"]
    return CaseButton(action, case)


async def main(plan: dict[str, Any]) -> None:
    engine = create_engine(plan["database"])
    service = ConversationService(
        session_factory(engine), Keyring.parse(plan["keys"]), Intake(load_questionnaire())
    )
    print(json.dumps({"ready": True}), flush=True)
    start = float(await asyncio.to_thread(sys.stdin.readline))
    try:
        for index, step in enumerate(plan["events"]):
            await asyncio.sleep(max(0.0, start + step["after"] - time.time()))
            reply = await service.handle(
                Incoming(next(updates), step["chat"], "en", 1, event_of(step))
            )
            said = [v.key for v in reply.views if isinstance(v, Say)] if reply else []
            print(json.dumps({"index": index, "said": said}), flush=True)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        asyncio.run(main(json.load(handle)))
