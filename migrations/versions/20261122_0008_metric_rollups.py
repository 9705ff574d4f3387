"""metric rollups: district and county weekly rollups, their watermark, the events' cursor index

district_rollups is tenant-owned: row-level security like every tenant table. county_rollups
and rollup_watermarks are not (read and written in system scope only): no policy. Both rollup
tables are derived data (rebuildable from the event log) and carry no foreign keys: the checks
cost a quarter of every incremental run and half of every county rebuild.
ix_referral_events_at_id serves the incremental cursor, which reads events across districts
in (at, id) order; on PostgreSQL it is built CONCURRENTLY so event writes are not blocked.

Revision ID: 20261122_0008
Revises: 20261122_0007
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa

revision = "20261122_0008"
down_revision = "20261122_0007"
branch_labels = None
depends_on = None

VISIBLE = "baton_tenant_visible(tenant_id)"
DIMENSIONS = ("provider_id", "tier", "preferred_language", "disability_or_iep", "grade", "to_status")


def _dimensions():
    return [
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.String(length=1), nullable=False),
        sa.Column("preferred_language", sa.String(length=16), nullable=False),
        sa.Column("disability_or_iep", sa.Boolean(), nullable=False),
        sa.Column("grade", sa.String(length=4), nullable=False),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "rollup_watermarks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_watermarks")),
    )
    op.create_table(
        "county_rollups",
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        *_dimensions(),
        sa.PrimaryKeyConstraint(
            "county_id", "week_start", "tenant_id", *DIMENSIONS, name=op.f("pk_county_rollups")
        ),
    )
    op.create_table(
        "district_rollups",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        *_dimensions(),
        sa.PrimaryKeyConstraint(
            "tenant_id", "week_start", "school_id", *DIMENSIONS, name=op.f("pk_district_rollups")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE district_rollups ENABLE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON district_rollups"
            f" USING ({VISIBLE}) WITH CHECK ({VISIBLE})"
        )
        with op.get_context().autocommit_block():
            op.create_index(
                op.f("ix_referral_events_at_id"),
                "referral_events",
                ["at", "id"],
                postgresql_concurrently=True,
            )
    else:
        with op.batch_alter_table("referral_events", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_referral_events_at_id"), ["at", "id"])


def downgrade():
    with op.batch_alter_table("referral_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_events_at_id"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY tenant_isolation ON district_rollups")
    op.drop_table("district_rollups")
    op.drop_table("county_rollups")
    op.drop_table("rollup_watermarks")
