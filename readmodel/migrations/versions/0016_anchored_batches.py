"""anchored batches: the totals hash of one-word anchors

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the packed totals of the BatchAnchored event: the header's totals hash is their keccak256
    # ("0x" for a batch indexed before: its header cannot be rebuilt from the read model)
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("totals_packed", sa.Text(), server_default="0x", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("totals_packed")
