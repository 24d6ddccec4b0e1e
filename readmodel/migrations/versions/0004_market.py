"""market: rulebooks and reference prices, orders, trades, daily quotes, block proposals, unclaimed escrow

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 17:34:39.722259
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_blocks",
        sa.Column("block_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("proposed_block", sa.BigInteger(), nullable=False),
        sa.Column("proposed_time", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("closed_block", sa.BigInteger(), nullable=True),
        sa.Column("closed_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("block_id", name=op.f("pk_market_blocks")),
    )
    with op.batch_alter_table("market_blocks", schema=None) as batch_op:
        batch_op.create_index("ix_market_blocks_buyer", ["buyer", "block_id"], unique=False)
        batch_op.create_index("ix_market_blocks_seller", ["seller", "block_id"], unique=False)

    op.create_table(
        "market_orders",
        sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("filled_value", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("fills", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("call_phase", sa.Boolean(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("placed_block", sa.BigInteger(), nullable=False),
        sa.Column("placed_time", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("closed_block", sa.BigInteger(), nullable=True),
        sa.Column("closed_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_market_orders")),
    )
    with op.batch_alter_table("market_orders", schema=None) as batch_op:
        batch_op.create_index("ix_market_orders_book", ["token_id", "status", "side", "price"], unique=False)
        batch_op.create_index("ix_market_orders_owner", ["owner", "token_id", "order_id"], unique=False)

    op.create_table(
        "market_quotes",
        sa.Column("token_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("open", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("close", sa.BigInteger(), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("turnover", sa.BigInteger(), nullable=False),
        sa.Column("trades", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("first_time", sa.BigInteger(), nullable=False),
        sa.Column("last_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_id", "day", "mode", name=op.f("pk_market_quotes")),
    )
    with op.batch_alter_table("market_quotes", schema=None) as batch_op:
        batch_op.create_index("ix_market_quotes_day", ["day", "mode", "token_id"], unique=False)

    op.create_table(
        "market_reference_prices",
        sa.Column("token_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint(
            "token_id", "block_number", "log_index", name=op.f("pk_market_reference_prices")
        ),
    )
    op.create_table(
        "market_rulebooks",
        sa.Column("token_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reference_price", sa.BigInteger(), nullable=False),
        sa.Column("band_bps", sa.Integer(), nullable=False),
        sa.Column("block_band_bps", sa.Integer(), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("block_minimum", sa.BigInteger(), nullable=False),
        sa.Column("call_start", sa.Integer(), nullable=False),
        sa.Column("open1", sa.Integer(), nullable=False),
        sa.Column("close1", sa.Integer(), nullable=False),
        sa.Column("open2", sa.Integer(), nullable=False),
        sa.Column("close2", sa.Integer(), nullable=False),
        sa.Column("block_from", sa.Integer(), nullable=False),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("halt_reason", sa.Text(), nullable=True),
        sa.Column("listed_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_market_rulebooks")),
    )
    op.create_table(
        "market_trades",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("buy_id", sa.BigInteger(), nullable=False),
        sa.Column("sell_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("buyer_fee", sa.BigInteger(), nullable=False),
        sa.Column("seller_fee", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_trades")),
    )
    with op.batch_alter_table("market_trades", schema=None) as batch_op:
        batch_op.create_index("ix_market_trades_buy_id", ["buy_id"], unique=False)
        batch_op.create_index("ix_market_trades_buyer", ["buyer", "id"], unique=False)
        batch_op.create_index("ix_market_trades_day", ["token_id", "day", "mode"], unique=False)
        batch_op.create_index("ix_market_trades_sell_id", ["sell_id"], unique=False)
        batch_op.create_index("ix_market_trades_seller", ["seller", "id"], unique=False)
        batch_op.create_index("ix_market_trades_token", ["token_id", "id"], unique=False)

    op.create_table(
        "market_unclaimed",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("token_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "token_id", name=op.f("pk_market_unclaimed")),
    )


def downgrade() -> None:
    op.drop_table("market_unclaimed")
    with op.batch_alter_table("market_trades", schema=None) as batch_op:
        batch_op.drop_index("ix_market_trades_token")
        batch_op.drop_index("ix_market_trades_seller")
        batch_op.drop_index("ix_market_trades_sell_id")
        batch_op.drop_index("ix_market_trades_day")
        batch_op.drop_index("ix_market_trades_buyer")
        batch_op.drop_index("ix_market_trades_buy_id")

    op.drop_table("market_trades")
    op.drop_table("market_rulebooks")
    op.drop_table("market_reference_prices")
    with op.batch_alter_table("market_quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_market_quotes_day")

    op.drop_table("market_quotes")
    with op.batch_alter_table("market_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_market_orders_owner")
        batch_op.drop_index("ix_market_orders_book")

    op.drop_table("market_orders")
    with op.batch_alter_table("market_blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_market_blocks_seller")
        batch_op.drop_index("ix_market_blocks_buyer")

    op.drop_table("market_blocks")
