"""market operations: position limits and governed rulebooks, the settlement agent, the market-wide halt

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 20:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("market_rulebooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position_limit", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("position_limit_bps", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("governed", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "market_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("halt_reason", sa.Text(), nullable=True),
        sa.Column("settlement_agent", sa.String(length=42), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_state")),
    )


def downgrade() -> None:
    op.drop_table("market_state")
    with op.batch_alter_table("market_rulebooks", schema=None) as batch_op:
        batch_op.drop_column("governed")
        batch_op.drop_column("position_limit_bps")
        batch_op.drop_column("position_limit")
