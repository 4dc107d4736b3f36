"""The baseline: a minimal python-telegram-bot ConversationHandler bot that asks the same
questions with the same buttons, keeping everything in memory — no database, no encryption,
no durability. Confide's figures are compared with this one's. It talks to the Bot API as
python-telegram-bot does by default (httpx); with BENCH_TRANSPORT=aiohttp, through
Confide's transport instead (bench/run.py's target `minimal-aiohttp`), to show what the
transport alone is worth. For evidence files it does
the least a bot can: it downloads a file to memory, says so, and on /deliver uploads it back
as a new protected document (bench/evidence.py).

Run: CONFIDE_TELEGRAM_TOKEN=... CONFIDE_TELEGRAM_BASE_URL=... python bench/minimal_bot.py
"""

from __future__ import annotations

import html
import logging
import os
import secrets

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.intake.questionnaire import Kind, Question, load_questionnaire

QUESTIONS = load_questionnaire().questions
MENU, ASKING, REVIEW = range(3)


def applicable(answers: dict[str, object]) -> list[Question]:
    return [q for q in QUESTIONS if q.when is None or q.when.holds(answers.get(q.when.question))]


def keyboard(question: Question, ticked: list[str]) -> InlineKeyboardMarkup:
    rows = []
    if question.kind is Kind.MULTI:
        rows = [
            [
                InlineKeyboardButton(
                    ("☑️ " if c.id in ticked else "⬜️ ") + c.label.get("en"),
                    callback_data=f"t|{c.id}",
                )
            ]
            for c in question.choices
        ]
        rows.append([InlineKeyboardButton("✅ Done", callback_data="d")])
    elif question.kind is Kind.DATE:
        rows = [
            [
                InlineKeyboardButton("Today", callback_data="p|today"),
                InlineKeyboardButton("Yesterday", callback_data="p|yesterday"),
            ]
        ]
    else:
        rows = [
            [InlineKeyboardButton(c.label.get("en"), callback_data=f"p|{c.id}")]
            for c in question.choices
        ]
    rows.append(
        [
            InlineKeyboardButton("◀️ Back", callback_data="b"),
            InlineKeyboardButton("Skip ⏭", callback_data="s"),
            InlineKeyboardButton("✖️ Cancel", callback_data="x"),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    data = context.user_data
    assert data is not None
    questions = applicable(data["answers"])
    if data["index"] >= len(questions):
        summary = "\n".join(
            f"<b>{q.short.get('en')}</b>\n{html.escape(str(data['answers'].get(q.id)))}"
            for q in questions
        )
        await update.effective_chat.send_message(  # type: ignore[union-attr]
            "Please check your report\n\n" + summary,
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("📨 Send report", callback_data="send")]]
            ),
        )
        return REVIEW
    question = questions[data["index"]]
    await update.effective_chat.send_message(  # type: ignore[union-attr]
        f"<b>Question {data['index'] + 1}/{len(questions)}</b>\n"
        + html.escape(question.text.get("en")),
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(question, []),
    )
    return ASKING


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await update.effective_chat.send_message(  # type: ignore[union-attr]
        "<b>Confide</b> (baseline)",
        parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("📝 Make a report", callback_data="report")]]
        ),
    )
    return MENU


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await update.callback_query.answer()  # type: ignore[union-attr]
    context.user_data.update(answers={}, index=0, ticked=[])  # type: ignore[union-attr]
    return await ask(update, context)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    data = context.user_data
    assert data is not None and update.message is not None
    question = applicable(data["answers"])[data["index"]]
    data["answers"][question.id] = update.message.text
    data["index"] += 1
    return await ask(update, context)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    data = context.user_data
    assert query is not None and data is not None
    await query.answer()
    question = applicable(data["answers"])[data["index"]]
    action, _, value = (query.data or "").partition("|")
    if action == "t":
        ticked = data["ticked"]
        ticked.remove(value) if value in ticked else ticked.append(value)
        await query.edit_message_reply_markup(keyboard(question, ticked))
        return ASKING
    if action == "d":
        data["answers"][question.id], data["ticked"] = list(data["ticked"]), []
    elif action == "p":
        data["answers"][question.id] = value
    data["index"] += 1
    return await ask(update, context)


async def on_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    message, data = update.message, context.user_data
    assert message is not None and data is not None
    media = message.document or message.photo[-1]
    content = await (await media.get_file()).download_as_bytearray()
    data.setdefault("files", []).append((getattr(media, "file_name", None), bytes(content)))
    question = applicable(data["answers"])[data["index"]]
    await message.reply_text(
        f"File received ({len(content)} bytes)", reply_markup=keyboard(question, [])
    )
    return ASKING


async def deliver(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    for number, (_, content) in enumerate((context.user_data or {}).get("files", []), start=1):
        await update.effective_chat.send_document(  # type: ignore[union-attr]
            content, filename=f"file-{number}", protect_content=True
        )


async def send(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await update.callback_query.answer()  # type: ignore[union-attr]
    code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
    await update.effective_chat.send_message(  # type: ignore[union-attr]
        f"✅ Your report was sent.\nYour receipt code:\n<code>{code}</code>",
        parse_mode=ParseMode.HTML,
    )
    return ConversationHandler.END


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    builder = (
        Application.builder()
        .token(os.environ["CONFIDE_TELEGRAM_TOKEN"])
        .base_url(os.environ["CONFIDE_TELEGRAM_BASE_URL"])
        .base_file_url(os.environ["CONFIDE_TELEGRAM_BASE_FILE_URL"])
    )
    if os.environ.get("BENCH_TRANSPORT") == "aiohttp":
        from bot.telegram.transport import AiohttpRequest

        builder = builder.request(AiohttpRequest(4)).get_updates_request(AiohttpRequest(1))
    application = builder.build()
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={
                MENU: [CallbackQueryHandler(begin, pattern="^report$")],
                ASKING: [
                    MessageHandler(filters.TEXT & ~filters.COMMAND, on_text),
                    MessageHandler(filters.Document.ALL | filters.PHOTO, on_file),
                    CallbackQueryHandler(on_button),
                ],
                REVIEW: [CallbackQueryHandler(send, pattern="^send$")],
            },
            fallbacks=[CommandHandler("start", start)],
        )
    )
    application.add_handler(CommandHandler("deliver", deliver))
    print("event=started", flush=True)
    application.run_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
