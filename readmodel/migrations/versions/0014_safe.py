"""enterprise accounts: Safe multisig transactions and their representatives' signatures

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "safe_transactions",
        sa.Column("safe_tx_hash", sa.String(length=66), nullable=False),
        sa.Column("safe", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("to", sa.String(length=42), nullable=False),
        sa.Column("value", sa.String(length=78), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("contract", sa.String(length=40), nullable=False),
        sa.Column("function", sa.String(length=200), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("proposer", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("executed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("safe_tx_hash", name=op.f("pk_safe_transactions")),
    )
    op.create_index("ix_safe_transactions_safe", "safe_transactions", ["safe"], unique=False)
    op.create_index("ix_safe_transactions_status", "safe_transactions", ["status"], unique=False)
    op.create_table(
        "safe_signatures",
        sa.Column("safe_tx_hash", sa.String(length=66), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("signature", sa.String(length=132), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("signed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("safe_tx_hash", "signer", name=op.f("pk_safe_signatures")),
    )


def downgrade() -> None:
    op.drop_table("safe_signatures")
    op.drop_index("ix_safe_transactions_status", table_name="safe_transactions")
    op.drop_index("ix_safe_transactions_safe", table_name="safe_transactions")
    op.drop_table("safe_transactions")
