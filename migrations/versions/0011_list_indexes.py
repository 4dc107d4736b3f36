"""list indexes: the responders' lists (/queue, /mine, /overdue) read a page of open cases
along a partial index in list order, without sorting or reading the other open cases

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# bot.store.models' open_case() and may_be_late(), in the same words: a query uses a partial
# index only if it states the index's condition as the index does.
OPEN = "status NOT IN ('closed', 'withdrawn')"
MAY_BE_LATE = "(escalated_at IS NOT NULL OR claim_due_at IS NOT NULL OR reply_due_at IS NOT NULL)"


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(
        name,
        "cases",
        columns,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    _partial("ix_cases_open_order", ["submitted_at", "short_id"], OPEN)
    _partial("ix_cases_open_claimed", ["claimed_by", "submitted_at", "short_id"], OPEN)
    _partial("ix_cases_open_late", ["submitted_at", "short_id"], f"{OPEN} AND {MAY_BE_LATE}")


def downgrade() -> None:
    for name in ("ix_cases_open_late", "ix_cases_open_claimed", "ix_cases_open_order"):
        op.drop_index(name, table_name="cases")
