"""referrals: when the last status event happened (a Task's lastUpdated), the provider's own
identifier (FILL), and the poll indexes

last_event_at is backfilled from the event log in one statement; the indexes that serve the
FHIR polls are built CONCURRENTLY on PostgreSQL so referral writes are not blocked.

Revision ID: 20261201_0102
Revises: 20261201_0501
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "20261201_0102"
down_revision = "20261201_0501"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_referrals_provider_id_last_event_at_id", ["provider_id", "last_event_at", "id"]),
    ("ix_referrals_tenant_id_last_event_at_id", ["tenant_id", "last_event_at", "id"]),
)


def upgrade():
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("provider_ref_system", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("provider_ref", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE referrals SET last_event_at = (SELECT max(e.at) FROM referral_events e"
        " WHERE e.tenant_id = referrals.tenant_id AND e.referral_id = referrals.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, columns in INDEXES:
                op.create_index(name, "referrals", columns, postgresql_concurrently=True)
    else:
        with op.batch_alter_table("referrals", schema=None) as batch_op:
            for name, columns in INDEXES:
                batch_op.create_index(name, columns)


def downgrade():
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        for name, _ in INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_column("provider_ref")
        batch_op.drop_column("provider_ref_system")
        batch_op.drop_column("last_event_at")
