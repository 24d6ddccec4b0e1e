"""market surveillance: the exchange's account records (enterprise group, controller) the scans read

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 20:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_account_records",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("enterprise_group", sa.String(length=200), nullable=True),
        sa.Column("controller", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_market_account_records")),
    )
    op.create_table(
        "market_alerts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("accounts", sa.String(length=255), nullable=False),
        sa.Column("trade_ids", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_alerts")),
        sa.UniqueConstraint(
            "kind", "day", "token_id", "accounts", name=op.f("uq_market_alerts_kind_day_token_id_accounts")
        ),
    )
    with op.batch_alter_table("market_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_market_alerts_day", ["day", "kind", "token_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("market_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_market_alerts_day")
    op.drop_table("market_alerts")
    op.drop_table("market_account_records")
