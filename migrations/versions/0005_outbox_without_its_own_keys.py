"""the outbox without keys or recipients of its own, and without delivered rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Delivered and abandoned messages were kept before; they are deleted from now on.
    op.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL")
    op.execute("DELETE FROM outbox WHERE audience IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_sent_at"))
        batch_op.drop_column("wrapped_key")
        batch_op.drop_column("recipient")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("failed_at")
        batch_op.alter_column("audience", existing_type=sa.String(length=16), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("audience", existing_type=sa.String(length=16), nullable=True)
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("recipient", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("wrapped_key", sa.LargeBinary(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_sent_at"), ["sent_at"], unique=False)
