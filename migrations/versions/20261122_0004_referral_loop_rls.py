"""row-level security on the referral-loop tables; referral events are append-only

Revision ID: 20261122_0004
Revises: 20261122_0003
Create Date: 2026-11-22
"""

from alembic import op

revision = "20261122_0004"
down_revision = "20261122_0003"
branch_labels = None
depends_on = None

APP_ROLE = "baton_app"
TABLES = (
    "tenant_settings",
    "triage_checklists",
    "concerns",
    "consents",
    "crisis_records",
    "service_logs",
    "referrals",
    "referral_events",
    "contact_attempts",
    "bounces",
    "barriers",
    "escalations",
)
VISIBLE = "baton_tenant_visible(tenant_id)"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING ({VISIBLE}) WITH CHECK ({VISIBLE})"
        )
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON referral_events FROM {APP_ROLE}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"GRANT UPDATE, DELETE ON referral_events TO {APP_ROLE}")
    for table in TABLES:
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
