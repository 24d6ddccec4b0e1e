"""compliance obligations keyed by (enterprise, pollutant, year)

An enterprise may owe several pollutants in one year: ``notices`` is keyed by (enterprise, year,
pollutant) instead of (enterprise, year), and each application records its obligation's
pollutant (rows indexed before this revision take their notice's).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 20:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_constraint("pk_notices", type_="primary")
        batch_op.create_primary_key("pk_notices", ["enterprise", "year", "pollutant"])
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pollutant", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE applications SET pollutant = (SELECT n.pollutant FROM notices n"
        " WHERE n.enterprise = applications.enterprise AND n.year = applications.year)"
    )
    op.execute("UPDATE applications SET pollutant = 0 WHERE pollutant IS NULL")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.alter_column("pollutant", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    # a downgrade keeps one obligation per (enterprise, year): the lowest pollutant's
    op.execute(
        "DELETE FROM notices WHERE pollutant > (SELECT MIN(o.pollutant) FROM notices o"
        " WHERE o.enterprise = notices.enterprise AND o.year = notices.year)"
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("pollutant")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_constraint("pk_notices", type_="primary")
        batch_op.create_primary_key("pk_notices", ["enterprise", "year"])
