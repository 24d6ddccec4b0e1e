"""government reserve and closures

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reserve_movements",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("pollutant", sa.Integer(), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("party", sa.String(length=42), nullable=True),
        sa.Column("ref", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", "position", name=op.f("pk_reserve_movements")),
    )
    op.create_index("ix_reserve_movements_kind", "reserve_movements", ["kind"], unique=False)
    op.create_index("ix_reserve_movements_token_id", "reserve_movements", ["token_id"], unique=False)
    op.create_table(
        "reserve_offers",
        sa.Column("offer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("project", sa.String(length=42), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("payment", sa.BigInteger(), nullable=False),
        sa.Column("annual_plan_id", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("offered_time", sa.BigInteger(), nullable=False),
        sa.Column("decided_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.PrimaryKeyConstraint("offer_id", name=op.f("pk_reserve_offers")),
    )
    op.create_index("ix_reserve_offers_project", "reserve_offers", ["project"], unique=False)
    op.create_index("ix_reserve_offers_status", "reserve_offers", ["status"], unique=False)
    op.create_table(
        "closures",
        sa.Column("closure_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("permit_id", sa.BigInteger(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("reason_code", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("swept", sa.JSON(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("closure_id", name=op.f("pk_closures")),
    )
    op.create_index("ix_closures_enterprise", "closures", ["enterprise"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_closures_enterprise", table_name="closures")
    op.drop_table("closures")
    op.drop_index("ix_reserve_offers_status", table_name="reserve_offers")
    op.drop_index("ix_reserve_offers_project", table_name="reserve_offers")
    op.drop_table("reserve_offers")
    op.drop_index("ix_reserve_movements_token_id", table_name="reserve_movements")
    op.drop_index("ix_reserve_movements_kind", table_name="reserve_movements")
    op.drop_table("reserve_movements")
