"""where schools and service sites are (latitude, longitude; a service's site address), for
the directory's distance filter: optional columns, each pair a real point or none

Revision ID: 20261201_0704
Revises: 20261201_0703
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "20261201_0704"
down_revision = "20261201_0703"
branch_labels = None
depends_on = None

CHECKS = (
    ("latitude_range", "latitude BETWEEN -90 AND 90"),
    ("longitude_range", "longitude BETWEEN -180 AND 180"),
    ("both_or_neither", "(latitude IS NULL) = (longitude IS NULL)"),
)


def upgrade():
    # Adding nullable columns keeps the schools' (tenant_id, id) key and RLS policy as they are.
    for table in ("schools", "services"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "services":
                batch_op.add_column(sa.Column("site_address", sa.String(length=300), nullable=True))
            batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
            for name, condition in CHECKS:
                batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"), condition)


def downgrade():
    for table in ("services", "schools"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in CHECKS:
                batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
            batch_op.drop_column("longitude")
            batch_op.drop_column("latitude")
            if table == "services":
                batch_op.drop_column("site_address")
