"""statistics totals per period, region, industry and enterprise; transfers by block

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 11:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from readmodel.totals import rebuild_totals

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stat_totals",
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("dim", sa.String(length=10), nullable=False),
        sa.Column("pollutant", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=42), nullable=False),
        sa.Column("region_code", sa.Integer(), nullable=True),
        sa.Column("industry_code", sa.String(length=8), nullable=True),
        sa.Column("enterprise", sa.String(length=42), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "grain", "metric", "dim", "pollutant", "period", "key", name=op.f("pk_stat_totals")
        ),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index("ix_transfers_block", ["block_number"], unique=False)
    # a read model indexed before this revision: its totals from its rollups
    rebuild_totals(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_transfers_block")
    op.drop_table("stat_totals")
