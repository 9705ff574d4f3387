"""referrals.event_count: the next event's sequence number without a max() query

Revision ID: 20261122_0005
Revises: 20261122_0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "20261122_0005"
down_revision = "20261122_0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("event_count", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE referrals SET event_count = (SELECT count(*) FROM referral_events e"
        " WHERE e.tenant_id = referrals.tenant_id AND e.referral_id = referrals.id)"
    )


def downgrade():
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("event_count")
