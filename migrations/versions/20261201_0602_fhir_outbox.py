"""the FHIR outbox (fhir_outbox), pushed Task links (fhir_pushed_tasks) and quarantined remote
changes (fhir_quarantine): tenant tables, with row-level security like the other tenant tables

Revision ID: 20261201_0602
Revises: 20261201_0601
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "20261201_0602"
down_revision = "20261201_0601"
branch_labels = None
depends_on = None

TABLES = ("fhir_outbox", "fhir_pushed_tasks", "fhir_quarantine")
VISIBLE = "baton_tenant_visible(tenant_id)"


def upgrade():
    op.create_table('fhir_outbox',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('provider_id', sa.Uuid(), nullable=False),
    sa.Column('subscription_id', sa.Uuid(), nullable=True),
    sa.Column('target', sa.String(length=500), nullable=True),
    sa.Column('event_number', sa.Integer(), nullable=True),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.Column('event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['provider_orgs.id'], name=op.f('fk_fhir_outbox_provider_id_provider_orgs')),
    sa.ForeignKeyConstraint(['subscription_id'], ['fhir_subscriptions.id'], name=op.f('fk_fhir_outbox_subscription_id_fhir_subscriptions')),
    sa.ForeignKeyConstraint(['tenant_id', 'referral_id'], ['referrals.tenant_id', 'referrals.id'], name=op.f('fk_fhir_outbox_tenant_id_referral_id_referrals')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_fhir_outbox_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_fhir_outbox'))
    )
    with op.batch_alter_table('fhir_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fhir_outbox_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fhir_outbox_tenant_id_referral_id'), ['tenant_id', 'referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fhir_outbox_tenant_id_status_created_at'), ['tenant_id', 'status', 'created_at'], unique=False)

    op.create_table('fhir_pushed_tasks',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.String(length=64), nullable=False),
    sa.Column('requester', sa.String(length=200), nullable=False),
    sa.Column('synced_count', sa.Integer(), nullable=False),
    sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['fhir_endpoints.id'], name=op.f('fk_fhir_pushed_tasks_endpoint_id_fhir_endpoints')),
    sa.ForeignKeyConstraint(['tenant_id', 'referral_id'], ['referrals.tenant_id', 'referrals.id'], name=op.f('fk_fhir_pushed_tasks_tenant_id_referral_id_referrals')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_fhir_pushed_tasks_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'referral_id', name=op.f('pk_fhir_pushed_tasks')),
    sa.UniqueConstraint('endpoint_id', 'task_id', name=op.f('uq_fhir_pushed_tasks_endpoint_id_task_id'))
    )
    op.create_table('fhir_quarantine',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('remote_version', sa.String(length=64), nullable=False),
    sa.Column('task_status', sa.String(length=32), nullable=True),
    sa.Column('business_status', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['fhir_endpoints.id'], name=op.f('fk_fhir_quarantine_endpoint_id_fhir_endpoints')),
    sa.ForeignKeyConstraint(['tenant_id', 'referral_id'], ['referrals.tenant_id', 'referrals.id'], name=op.f('fk_fhir_quarantine_tenant_id_referral_id_referrals')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_fhir_quarantine_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_fhir_quarantine'))
    )
    with op.batch_alter_table('fhir_quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fhir_quarantine_tenant_id_received_at'), ['tenant_id', 'received_at'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({VISIBLE}) WITH CHECK ({VISIBLE})"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP POLICY tenant_isolation ON {table}")
    with op.batch_alter_table("fhir_quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_quarantine_tenant_id_received_at"))
    op.drop_table("fhir_quarantine")
    op.drop_table("fhir_pushed_tasks")
    with op.batch_alter_table("fhir_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_outbox_tenant_id_status_created_at"))
        batch_op.drop_index(batch_op.f("ix_fhir_outbox_tenant_id_referral_id"))
        batch_op.drop_index(batch_op.f("ix_fhir_outbox_status_next_attempt_at"))
    op.drop_table("fhir_outbox")
