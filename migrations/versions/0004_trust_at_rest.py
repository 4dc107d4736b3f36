"""trust at rest: row MACs, the draft's own key, a keyed audit head, key states, replicas,
expiring messages, keyed migrations, and an outbox sealed under its recipient's keys

The outbox's old columns stay until 0005: the keyed step "0004-trust-at-rest", which runs
between the two, converts the messages still waiting.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 05:20:45.804984
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "keyed_migrations",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_keyed_migrations")),
    )
    op.create_table(
        "replicas",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kek_ids", sa.String(length=200), nullable=False),
        sa.Column("wraps_under", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replicas")),
    )
    op.create_table(
        "expiring_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("responder_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("delete_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["responder_id"],
            ["responders.id"],
            name=op.f("fk_expiring_messages_responder_id_responders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expiring_messages")),
    )
    with op.batch_alter_table("expiring_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_expiring_messages_delete_at"), ["delete_at"], unique=False
        )
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mac", sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("draft", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mac", sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table("key_checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=True))
    with op.batch_alter_table("responders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mac", sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("responder_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("case_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.alter_column("wrapped_key", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.alter_column("recipient", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_index(batch_op.f("ix_outbox_case_id"), ["case_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_case_id_cases"), "cases", ["case_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_responder_id_responders"),
            "responders",
            ["responder_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_responder_id_responders"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_outbox_case_id_cases"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_case_id"))
        batch_op.drop_column("priority")
        batch_op.drop_column("case_id")
        batch_op.drop_column("responder_id")
        batch_op.drop_column("audience")
    with op.batch_alter_table("responders", schema=None) as batch_op:
        batch_op.drop_column("mac")
    with op.batch_alter_table("key_checks", schema=None) as batch_op:
        batch_op.drop_column("state")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_column("mac")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_column("draft")
        batch_op.drop_column("draft_key")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("mac")
    with op.batch_alter_table("expiring_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expiring_messages_delete_at"))
    op.drop_table("expiring_messages")
    op.drop_table("replicas")
    op.drop_table("keyed_migrations")
