"""Start-up and the main loop: keys, database, migrations, then updates (long polling, or a
webhook Telegram posts to) until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from bot import metrics
from bot.config import ConfigError, Settings
from bot.i18n import add_languages, catalogue
from bot.intake.flow import Intake
from bot.intake.questionnaire import load_questionnaire
from bot.opening import key_file_reader, load_keyring, prepare_database
from bot.probes import ProbeServer
from bot.services import audit
from bot.services.conversation import ConversationService
from bot.services.deadlines import DeadlineWatch
from bot.services.health import Gauges, HealthLine
from bot.services.inbox import Inbox, StoredUpdate
from bot.services.keys import WATCH_SECONDS, KeyWatch, check_keys
from bot.services.outbox import Outbox
from bot.services.retention import RetentionWatch
from bot.store.checkpoints import EVERY_SECONDS as WAL_CHECKPOINT_SECONDS
from bot.store.checkpoints import WalCheckpoints
from bot.store.database import create_engine, schema_problem, session_factory
from bot.store.inbox import ChatTurns, chat_turns
from bot.store.session import Sessions
from bot.telegram.app import ALLOWED_UPDATES, build_bot, connected
from bot.telegram.commands import set_default_commands
from bot.telegram.connectivity import Connectivity
from bot.telegram.dispatch import Dispatcher
from bot.telegram.handlers import UpdateHandler
from bot.telegram.janitor import Janitor
from bot.telegram.polling import Poller, resume
from bot.telegram.readiness import Readiness
from bot.telegram.render import Renderer
from bot.telegram.sender import OutboxSender
from bot.telegram.updates import chat_of
from bot.telegram.webhook import WebhookReceiver

log = logging.getLogger(__name__)
PRUNE_EVERY = timedelta(minutes=10)
ANCHOR_EVERY = timedelta(hours=1)
STAFFING_EVERY = timedelta(hours=1)  # the warning while no responder is enrolled
RETENTION_EVERY = timedelta(minutes=10)
STOP_GRACE_SECONDS = 4.0  # twice, at most (updates, then chores): SIGTERM to exit under 10 s


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    keyring = load_keyring(settings)
    if settings.languages_dir is not None:
        add_languages(settings.languages_dir)
    questionnaire = load_questionnaire(settings.questionnaire)
    intake = Intake(questionnaire, settings.date_order)
    settings.require_token()
    if settings.mode == "webhook":
        settings.require_webhook_url()
    counting = metrics.Metrics()  # this bot's own registry (bot.metrics says why)
    metrics.attach(counting)
    probes = ProbeServer(
        settings.health_listen, settings.health_port, counting, enabled=settings.health_enabled
    )
    # First: a URL Confide cannot use is refused here, in words. Its log (SQLite's, if it has
    # one) is checkpointed by a chore below, not by the commits of updates.
    engine = create_engine(settings.database_url, checkpoints_elsewhere=True)
    checkpoints = WalCheckpoints(settings.database_url)
    turns: ChatTurns | None = None
    receiver: WebhookReceiver | None = None
    try:
        # Listening first: a port in use is said before anything else is done, and /healthz
        # answers during a long migration (/readyz says "starting").
        await probes.start()
        await prepare_database(settings, engine, keyring)
        sessions = session_factory(engine)
        await check_keys(sessions, keyring)
        queued = asyncio.Event()  # something waits in the outbox: its sender looks at once
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
            limits=settings.limits,
            on_notify=queued.set,
            zone=settings.timezone,
            retention=settings.retention,
            evidence=settings.evidence,
        )
        key_watch = KeyWatch(
            sessions, keyring, key_file_reader(settings), clock, on_change=service.chats.forget
        )
        await key_watch.tick()
        bot = build_bot(settings)
        async with connected(bot, settings.base_url):  # getMe: stops here if it cannot work
            renderer = Renderer(
                catalogue(),
                questionnaire,
                bot.username,
                zone=settings.timezone,
                organisation=settings.organisation,
                max_file_mb=settings.evidence.max_file_mb,
            )
            await set_default_commands(bot, catalogue())
            # Each chat's turn across replicas: a lock per update being handled at once.
            turns = chat_turns(settings.database_url, settings.concurrent_updates)
            inbox = Inbox(sessions, keyring, clock, turns=turns, chat_of=chat_of)
            connectivity = Connectivity()  # one view of Telegram's reachability per process
            handler = UpdateHandler(service, renderer, bot, inbox, connectivity)
            dispatcher = Dispatcher(handler.handle, settings.concurrent_updates)
            sender = OutboxSender(
                Outbox(sessions, keyring, pace=settings.outbox_pace),
                bot,
                renderer,
                retry_base_seconds=settings.outbox_retry_seconds,
                clock=clock,
                wake=queued,
                connectivity=connectivity,
            )
            watch = DeadlineWatch(sessions, keyring, settings.levels, clock, queued.set)
            retention = RetentionWatch(sessions, keyring, settings.retention, clock, queued.set)
            health = HealthLine(sessions, lambda: dispatcher.handled, clock)
            probes.refresh = Gauges(sessions, clock, counting).refresh
            readiness = Readiness(
                bot, connectivity, lambda: schema_problem(engine), lambda: bool(key_watch.missing)
            )
            janitor = Janitor(service.case_views, bot)
            max_age = timedelta(hours=settings.draft_max_age_hours)
            scan = settings.deadline_scan_seconds

            async def prune() -> None:
                await service.prune_chats(max_age)
                await inbox.forget_old_ids()

            await resume(inbox, dispatcher.submit)

            async def orphans() -> None:
                # Updates a replica stored (and had Telegram forget) but did not live to
                # handle: any replica takes them over, so removing one loses nothing.
                await resume(inbox, take_over, timedelta(seconds=settings.take_over_seconds))

            def take_over(chat: int | None, stored: StoredUpdate) -> None:
                if not dispatcher.holds(chat, stored):  # a slow one of our own: let it be
                    dispatcher.submit(chat, stored)

            if settings.mode == "webhook":
                # Never setWebhook here: each replica would overwrite the others' (and its
                # parameters); `confide webhook set` registers it once.
                await _warn_if_unregistered(bot, settings)
                receiver = WebhookReceiver(
                    inbox,
                    dispatcher.submit,
                    keyring.webhook_secret_matches,
                    listen=settings.webhook.listen,
                    port=settings.webhook.port,
                    path=settings.webhook.path,
                )
                await _listen(receiver)
                chores: list[Coroutine[Any, Any, object]] = []
            else:
                poller = Poller(
                    bot,
                    inbox,
                    dispatcher.submit,
                    timeout=settings.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    connectivity=connectivity,
                )
                chores = [poller.run(stop)]
            chores += [
                sender.run(stop),
                periodically("deadline_scan", scan, stop, watch.scan),
                periodically(
                    "staffing", STAFFING_EVERY.total_seconds(), stop, watch.check_staffing
                ),
                periodically("key_watch", min(scan, WATCH_SECONDS), stop, key_watch.tick),
                periodically("case_view_sweep", scan, stop, janitor.sweep),
                periodically("inbox_orphans", scan, stop, orphans, first_wait=True),
                periodically("prune", PRUNE_EVERY.total_seconds(), stop, prune),
                periodically("retention", RETENTION_EVERY.total_seconds(), stop, retention.run),
                periodically(
                    "health", settings.health_seconds, stop, health.write, first_wait=True
                ),
                periodically(
                    "audit_anchor",
                    ANCHOR_EVERY.total_seconds(),
                    stop,
                    lambda: _log_anchor(sessions),
                ),
            ]
            if checkpoints.needed:  # SQLite: the log's copy-back off the updates' commits
                chores.append(
                    periodically("wal_checkpoint", WAL_CHECKPOINT_SECONDS, stop, checkpoints.run)
                )
            if settings.health_enabled:  # nobody asks otherwise
                probe_every = settings.health_probe_seconds
                chores.append(periodically("readiness", probe_every, stop, readiness.probe))
            background = [asyncio.create_task(chore) for chore in chores]
            # What start-up built lives as long as the process: keep it out of every
            # garbage collection from now on.
            gc.collect()
            gc.freeze()
            log.info("event=started")
            probes.ready = readiness.problem
            if ready is not None:
                ready.set()
            await stop.wait()
            log.info("event=stopping")
            if receiver is not None:
                await receiver.stop()  # Telegram keeps what it cannot deliver now
            probes.ready = lambda: "stopping"
            # Updates being handled finish; the rest stay in the inbox for the next start.
            await dispatcher.stop(STOP_GRACE_SECONDS)
            sender.poke()  # wakes it to see the stop
            # Chores finish what they are doing (a transaction is never cut in half), then
            # see the stop; one that does not within the grace period is cancelled.
            _, late = await asyncio.wait(background, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                await key_watch.leave()
    finally:
        if receiver is not None:
            await receiver.stop()
        await probes.stop()
        if turns is not None:
            await turns.close()
        checkpoints.close()
        await engine.dispose()
    log.info("event=stopped")


async def _listen(receiver: WebhookReceiver) -> None:
    try:
        await receiver.start()
    except OSError as error:
        await receiver.stop()
        raise ConfigError(
            f"cannot listen for the webhook on {receiver.listen}:{receiver.port} "
            f"({error.strerror or type(error).__name__}): another process may hold that port; "
            "check [webhook] listen and port."
        ) from None


async def _warn_if_unregistered(bot: Bot, settings: Settings) -> None:
    """Telegram posts to the URL `confide webhook set` registered: say so if it is not ours
    (only read here: registering is one step for all replicas, never each one's start)."""
    try:
        registered = (await bot.get_webhook_info()).url
    except TelegramError as error:
        log.warning("event=webhook_info_failed error=%s", type(error).__name__)
        return
    if registered != settings.webhook.url:
        log.warning("event=webhook_not_registered hint=confide_webhook_set")


async def periodically(
    name: str,
    every_seconds: float,
    stop: asyncio.Event,
    work: Callable[[], Awaitable[object]],
    *,
    first_wait: bool = False,
) -> None:
    """Run `work` now (or, with `first_wait`, a period from now) and then every
    `every_seconds` until `stop`; a failure is logged (by its kind only) and the next round
    tries again."""
    if first_wait:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)
    while not stop.is_set():
        try:
            await work()
        except Exception as error:
            log.error("event=%s_failed error=%s", name, type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)


async def _log_anchor(sessions: Sessions) -> None:
    """The audit log's head in the log, every hour: kept with the logs, outside the database,
    it catches an older copy of the database restored over this one (docs/security.md)."""
    async with sessions.begin() as session:
        log.info("event=audit_anchor anchor=%s", await audit.anchor(session))
