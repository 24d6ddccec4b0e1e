"""auditors assigned to enterprises by the regulator; expiry indexes for the purge jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables the scheduler's purge job deletes expired rows from, by ``expires_at``.
_EXPIRING = ("siwe_nonces", "api_sessions", "tx_intents")


def upgrade() -> None:
    op.create_table(
        "auditor_assignments",
        sa.Column("auditor", sa.String(length=42), nullable=False),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("assigned_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("auditor", "enterprise", name=op.f("pk_auditor_assignments")),
    )
    with op.batch_alter_table("auditor_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auditor_assignments_enterprise"), ["enterprise"], unique=False)
    for table in _EXPIRING:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    for table in _EXPIRING:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_expires_at"))
    with op.batch_alter_table("auditor_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditor_assignments_enterprise"))
    op.drop_table("auditor_assignments")
