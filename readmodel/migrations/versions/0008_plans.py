"""total-control plans: five-year and annual plans, their adoption, caps executed from them

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("supersedes", sa.BigInteger(), nullable=True),
        sa.Column("superseded_by", sa.BigInteger(), nullable=True),
        sa.Column("five_year_plan_id", sa.BigInteger(), nullable=True),
        sa.Column("start_year", sa.Integer(), nullable=False),
        sa.Column("end_year", sa.Integer(), nullable=False),
        sa.Column("base_year", sa.Integer(), nullable=True),
        sa.Column("document_hash", sa.String(length=66), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("drafted_time", sa.BigInteger(), nullable=False),
        sa.Column("adopted_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plans")),
    )
    op.create_index("ix_plans_kind", "plans", ["kind", "start_year"], unique=False)
    op.create_table(
        "plan_cap_executions",
        sa.Column("token_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("plan_id", sa.BigInteger(), nullable=False),
        sa.Column("pollutant", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("cap", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_plan_cap_executions")),
    )


def downgrade() -> None:
    op.drop_table("plan_cap_executions")
    op.drop_index("ix_plans_kind", table_name="plans")
    op.drop_table("plans")
