"""auctions restricted to named bidders: a flag on auctions and their bidders

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 03:30:00.000000

A primary auction restricted to named bidders (``createRestrictedPrimary``, ``AuctionRestricted``)
is flagged in ``auctions.restricted`` and its bidders are listed in ``auction_bidders`` (in the
order the regulator named them), so the API and the dashboard show who may bid.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auctions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "auction_bidders",
        sa.Column("auction_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bidder", sa.String(length=42), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("auction_id", "bidder", name=op.f("pk_auction_bidders")),
    )
    op.create_index("ix_auction_bidders_bidder", "auction_bidders", ["bidder"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_auction_bidders_bidder", table_name="auction_bidders")
    op.drop_table("auction_bidders")
    with op.batch_alter_table("auctions", schema=None) as batch_op:
        batch_op.drop_column("restricted")
