"""discharge permits: applications, permits, outlets, annual reviews

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "permit_applications",
        sa.Column("application_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("document_hash", sa.String(length=66), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("outlets", sa.JSON(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("permit_id", sa.BigInteger(), nullable=True),
        sa.Column("submitted_time", sa.BigInteger(), nullable=False),
        sa.Column("decided_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_permit_applications")),
    )
    op.create_index("ix_permit_applications_enterprise", "permit_applications", ["enterprise"], unique=False)
    op.create_index("ix_permit_applications_status", "permit_applications", ["status"], unique=False)
    op.create_table(
        "discharge_permits",
        sa.Column("permit_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("valid_from", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("outlets", sa.JSON(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("issued_time", sa.BigInteger(), nullable=False),
        sa.Column("changed_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("permit_id", name=op.f("pk_discharge_permits")),
    )
    op.create_index("ix_discharge_permits_enterprise", "discharge_permits", ["enterprise"], unique=False)
    op.create_index("ix_discharge_permits_status", "discharge_permits", ["status"], unique=False)
    op.create_table(
        "permit_reviews",
        sa.Column("permit_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("permit_id", "year", name=op.f("pk_permit_reviews")),
    )


def downgrade() -> None:
    op.drop_table("permit_reviews")
    op.drop_index("ix_discharge_permits_status", table_name="discharge_permits")
    op.drop_index("ix_discharge_permits_enterprise", table_name="discharge_permits")
    op.drop_table("discharge_permits")
    op.drop_index("ix_permit_applications_status", table_name="permit_applications")
    op.drop_index("ix_permit_applications_enterprise", table_name="permit_applications")
    op.drop_table("permit_applications")
