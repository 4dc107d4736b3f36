"""replicas act as one bot: a pending update carries its chat's lookup (each chat's updates
are handled in order whichever replica stored them), and an outbox message says whether an
attempt may already have reached Telegram (a send again is then counted)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-14 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_lookup", sa.LargeBinary(), nullable=True))
        # Only pending updates carry one: the index stays as small as the backlog.
        batch_op.create_index(
            "ix_inbox_chat_lookup",
            ["chat_lookup"],
            unique=False,
            postgresql_where=sa.text("chat_lookup IS NOT NULL"),
            sqlite_where=sa.text("chat_lookup IS NOT NULL"),
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("maybe_sent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("maybe_sent")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_chat_lookup")
        batch_op.drop_column("chat_lookup")
