"""IC cards: cards beside devices, monthly loads of committed allowances, swipes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cards",
        sa.Column("card", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("device", sa.String(length=42), nullable=False),
        sa.Column("mn", sa.String(length=24), nullable=False),
        sa.Column("account", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("replaced_by", sa.BigInteger(), nullable=True),
        sa.Column("issued_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("card", name=op.f("pk_cards")),
    )
    op.create_index("ix_cards_enterprise", "cards", ["enterprise"], unique=False)
    op.create_index("ix_cards_device", "cards", ["device"], unique=False)
    op.create_index("ix_cards_account", "cards", ["account"], unique=False)
    op.create_table(
        "card_months",
        sa.Column("account", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("pollutant", sa.Integer(), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("committed", sa.BigInteger(), nullable=False),
        sa.Column("loads", sa.Integer(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("metered", sa.BigInteger(), nullable=True),
        sa.Column("used", sa.BigInteger(), nullable=True),
        sa.Column("returned", sa.BigInteger(), nullable=True),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "token_id", "month", name=op.f("pk_card_months")),
    )
    op.create_index("ix_card_months_enterprise", "card_months", ["enterprise"], unique=False)
    op.create_table(
        "card_movements",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("card", sa.BigInteger(), nullable=True),
        sa.Column("account", sa.BigInteger(), nullable=True),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_card_movements")),
    )
    op.create_index("ix_card_movements_card", "card_movements", ["card"], unique=False)
    op.create_index("ix_card_movements_enterprise", "card_movements", ["enterprise"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_card_movements_enterprise", table_name="card_movements")
    op.drop_index("ix_card_movements_card", table_name="card_movements")
    op.drop_table("card_movements")
    op.drop_index("ix_card_months_enterprise", table_name="card_months")
    op.drop_table("card_months")
    op.drop_index("ix_cards_account", table_name="cards")
    op.drop_index("ix_cards_device", table_name="cards")
    op.drop_index("ix_cards_enterprise", table_name="cards")
    op.drop_table("cards")
