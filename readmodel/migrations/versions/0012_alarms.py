"""alarm store: over-standard, facility and tamper alarms

Field alarms of the monitoring sites (quota, over-standard, facility stopped, instrument
maintenance, parameter tampering) as the scheduler relays them, with the regulator's
acknowledgement, and the review marks (windows of a device's readings) they set.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "field_alarms",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("enterprise", sa.String(length=42), nullable=False),
        sa.Column("mn", sa.String(length=32), nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("relayed_at", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=42), nullable=True),
        sa.Column("acknowledged_at", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_alarms")),
        sa.UniqueConstraint("uid", name=op.f("uq_field_alarms_uid")),
    )
    op.create_index("ix_field_alarms_kind", "field_alarms", ["kind"], unique=False)
    op.create_index("ix_field_alarms_mn", "field_alarms", ["mn"], unique=False)
    op.create_index("ix_field_alarms_at", "field_alarms", ["at"], unique=False)
    op.create_index("ix_field_alarms_enterprise_at", "field_alarms", ["enterprise", "at"], unique=False)
    op.create_table(
        "field_review_marks",
        sa.Column("alarm_uid", sa.String(length=160), nullable=False),
        sa.Column("mn", sa.String(length=32), nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("begin_at", sa.BigInteger(), nullable=False),
        sa.Column("end_at", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("alarm_uid", name=op.f("pk_field_review_marks")),
    )
    op.create_index(
        "ix_field_review_marks_mn_begin_at", "field_review_marks", ["mn", "begin_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_field_review_marks_mn_begin_at", table_name="field_review_marks")
    op.drop_table("field_review_marks")
    op.drop_index("ix_field_alarms_enterprise_at", table_name="field_alarms")
    op.drop_index("ix_field_alarms_at", table_name="field_alarms")
    op.drop_index("ix_field_alarms_mn", table_name="field_alarms")
    op.drop_index("ix_field_alarms_kind", table_name="field_alarms")
    op.drop_table("field_alarms")
