"""outbox pace: the bot's and each recent recipient's send rate, shared by every sender, so
that replicas together keep Telegram's limits

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The bot's row is created by the first lease that needs it (bot.store.outbox).
    op.create_table(
        "outbox_pace",
        sa.Column("recipient", sa.Uuid(), nullable=False),
        sa.Column("tat", sa.BigInteger(), nullable=False),  # microseconds since 1970
        sa.PrimaryKeyConstraint("recipient", name=op.f("pk_outbox_pace")),
    )


def downgrade() -> None:
    # Only pacing state of the last seconds: nothing is lost.
    op.drop_table("outbox_pace")
