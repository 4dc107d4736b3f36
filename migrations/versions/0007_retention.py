"""retention: when a case's responders were warned of its shredding and when its content
went, and the statistics that remain (sealed under a key of their own)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retention_warned_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_shredded_at"), ["shredded_at"], unique=False)

    op.create_table(
        "statistics_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statistics_keys")),
    )
    op.create_table(
        "case_statistics",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("figures", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["statistics_keys.id"],
            name=op.f("fk_case_statistics_key_id_statistics_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_statistics")),
    )


def downgrade() -> None:
    op.drop_table("case_statistics")
    op.drop_table("statistics_keys")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_shredded_at"))
        batch_op.drop_column("shredded_at")
        batch_op.drop_column("retention_warned_at")
