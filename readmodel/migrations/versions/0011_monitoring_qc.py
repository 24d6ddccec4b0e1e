"""monitoring: QC status of readings, excluded totals, review decisions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("readings") as batch:
        batch.add_column(sa.Column("qc", sa.String(length=16), server_default="measured", nullable=False))
        batch.add_column(sa.Column("exclusion", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("backfilled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "review_decisions",
        sa.Column("decision_id", sa.String(length=66), nullable=False),
        sa.Column("reviewer", sa.String(length=42), nullable=False),
        sa.Column("reviewer_role", sa.Integer(), nullable=False),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("subject", sa.String(length=66), nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=80), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("note_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_review_decisions")),
        sa.UniqueConstraint("enterprise", "subject", name=op.f("uq_review_decisions_enterprise_subject")),
    )
    op.create_index(
        "ix_review_decisions_enterprise_month", "review_decisions", ["enterprise", "month"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_review_decisions_enterprise_month", table_name="review_decisions")
    op.drop_table("review_decisions")
    with op.batch_alter_table("readings") as batch:
        batch.drop_column("backfilled")
        batch.drop_column("exclusion")
        batch.drop_column("qc")
