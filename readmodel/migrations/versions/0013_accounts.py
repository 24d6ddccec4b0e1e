"""enterprise accounts: registration and profile-change applications, trusted counterparties, Safe
transactions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create_applications() -> None:
    """Account applications (registration and profile change) and their history."""
    op.create_table(
        "account_applications",
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("region_code", sa.Integer(), nullable=False),
        sa.Column("industry_code", sa.String(length=8), nullable=False),
        sa.Column("latitude_e6", sa.Integer(), nullable=False),
        sa.Column("longitude_e6", sa.Integer(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=132), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=42), nullable=True),
        sa.Column("call_data", sa.Text(), nullable=True),
        sa.Column("intent_id", sa.String(length=36), nullable=True),
        sa.Column("submitted_time", sa.BigInteger(), nullable=False),
        sa.Column("decided_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_account_applications")),
    )
    op.create_index("ix_account_applications_account", "account_applications", ["account"], unique=False)
    op.create_index(
        "ix_account_applications_credit_code", "account_applications", ["credit_code"], unique=False
    )
    op.create_index("ix_account_applications_status", "account_applications", ["status"], unique=False)
    op.create_table(
        "account_application_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=42), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_application_events")),
    )
    op.create_index(
        "ix_account_application_events_application_id",
        "account_application_events",
        ["application_id"],
        unique=False,
    )


def _drop_applications() -> None:
    op.drop_index("ix_account_application_events_application_id", table_name="account_application_events")
    op.drop_table("account_application_events")
    op.drop_index("ix_account_applications_status", table_name="account_applications")
    op.drop_index("ix_account_applications_credit_code", table_name="account_applications")
    op.drop_index("ix_account_applications_account", table_name="account_applications")
    op.drop_table("account_applications")


def upgrade() -> None:
    _create_applications()


def downgrade() -> None:
    _drop_applications()
