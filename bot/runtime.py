"""Start-up and the main loop: keys, database, migrations, then polling until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import ConfigError, Settings
from bot.crypto import KeyConfigError, Keyring
from bot.i18n import catalogue
from bot.intake.flow import Intake
from bot.intake.questionnaire import load_questionnaire
from bot.services import audit
from bot.services.conversation import ConversationService
from bot.services.deadlines import DeadlineWatch
from bot.services.keys import KeyWatch, check_keys
from bot.services.outbox import Outbox
from bot.store.database import (
    create_engine,
    is_sqlite,
    migrate,
    pending_migrations,
    session_factory,
)
from bot.store.session import Sessions
from bot.telegram.app import ALLOWED_UPDATES, attach, build_application
from bot.telegram.janitor import Janitor
from bot.telegram.sender import OutboxSender

log = logging.getLogger(__name__)
PRUNE_EVERY = timedelta(minutes=10)
ANCHOR_EVERY = timedelta(hours=1)


def load_keyring(settings: Settings) -> Keyring:
    if settings.key_material:
        return Keyring.parse(settings.key_material)
    if settings.key_file is None:
        raise KeyConfigError(
            "No keys: set CONFIDE_KEYS or CONFIDE_KEY_FILE, or run `confide init`."
        )
    if not settings.key_file.exists():
        raise KeyConfigError(
            f"Key file {settings.key_file} does not exist. `confide init` creates one; if the "
            "database already holds reports, restore the key file from your backup instead."
        )
    return Keyring.from_file(settings.key_file)


def key_file_reader(settings: Settings) -> Callable[[], Keyring | None]:
    """How a running process re-reads its keys during a rotation (keys given in the
    environment cannot change under a running process: it must be restarted)."""
    if settings.key_material:
        return lambda: None
    return lambda: load_keyring(settings)


async def prepare_database(settings: Settings, engine: AsyncEngine, keyring: Keyring) -> None:
    """The embedded SQLite database migrates itself; a shared PostgreSQL is migrated explicitly
    (`confide migrate`), so that several replicas never race to change the schema."""
    if is_sqlite(settings.database_url):
        await migrate(engine, keyring=keyring)
    elif await pending_migrations(engine):
        raise ConfigError("The database schema is not up to date: run `confide migrate` first.")


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    keyring = load_keyring(settings)
    questionnaire = load_questionnaire(settings.questionnaire)
    intake = Intake(questionnaire)
    token = settings.require_token()
    engine = create_engine(settings.database_url)
    try:
        await prepare_database(settings, engine, keyring)
        sessions = session_factory(engine)
        await check_keys(sessions, keyring)
        key_watch = KeyWatch(sessions, keyring, key_file_reader(settings), clock)
        service = ConversationService(
            sessions,
            keyring,
            intake,
            default_language=settings.default_language,
            draft_max_age_hours=settings.draft_max_age_hours,
            clock=clock,
            levels=settings.levels,
            case_content_hours=settings.case_content_hours,
            exclusion=settings.exclusion,
        )
        key_watch.on_change = service.chats.forget
        await key_watch.tick()
        application = build_application(settings)
        assert token
        async with application:
            renderer = await attach(application, service, catalogue(), questionnaire)
            sender = OutboxSender(
                Outbox(sessions, keyring),
                application.bot,
                renderer,
                retry_base_seconds=settings.outbox_retry_seconds,
                clock=clock,
            )
            service.on_notify = sender.poke
            watch = DeadlineWatch(sessions, keyring, settings.levels, clock, sender.poke)
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(
                poll_interval=0,
                timeout=settings.poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
            )
            janitor = Janitor(service.case_views, application.bot, settings.deadline_scan_seconds)
            background = [
                asyncio.create_task(_prune_forever(service, settings)),
                asyncio.create_task(sender.run(stop)),
                asyncio.create_task(_watch_deadlines(watch, settings.deadline_scan_seconds)),
                asyncio.create_task(key_watch.run(stop, settings.deadline_scan_seconds)),
                asyncio.create_task(janitor.run(stop)),
                asyncio.create_task(_anchor_forever(sessions)),
            ]
            # What start-up built lives as long as the process: keep it out of every
            # garbage collection from now on.
            gc.collect()
            gc.freeze()
            log.info("event=started")
            if ready is not None:
                ready.set()
            await stop.wait()
            log.info("event=stopping")
            await application.updater.stop()
            await application.stop()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                await key_watch.leave()
    finally:
        await engine.dispose()
    log.info("event=stopped")


async def _watch_deadlines(watch: DeadlineWatch, every_seconds: float) -> None:
    while True:
        try:
            await watch.scan()
        except Exception as error:  # keep the clock running; the next scan catches up
            log.error("event=deadline_scan_failed error=%s", type(error).__name__)
        await asyncio.sleep(every_seconds)


async def _anchor_forever(sessions: Sessions) -> None:
    """The audit log's head in the log, every hour: kept with the logs, outside the database,
    it catches an older copy of the database restored over this one (docs/security.md)."""
    while True:
        try:
            async with sessions.begin() as session:
                log.info("event=audit_anchor anchor=%s", await audit.anchor(session))
        except Exception as error:
            log.error("event=audit_anchor_failed error=%s", type(error).__name__)
        await asyncio.sleep(ANCHOR_EVERY.total_seconds())


async def _prune_forever(service: ConversationService, settings: Settings) -> None:
    max_age = timedelta(hours=settings.draft_max_age_hours)
    while True:
        try:
            await service.prune_chats(max_age)
        except Exception as error:
            log.error("event=prune_failed error=%s", type(error).__name__)
        await asyncio.sleep(PRUNE_EVERY.total_seconds())
