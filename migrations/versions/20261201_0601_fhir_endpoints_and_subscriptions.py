"""fhir_endpoints (provider EHRs Baton pushes to) and fhir_subscriptions (the Subscriptions
Baton serves): provider-owned like oauth_clients, so not tenant tables and without RLS; the
app role gets its grants from the default privileges set in 20261122_0002.

Revision ID: 20261201_0601
Revises: 20261201_0102
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "20261201_0601"
down_revision = "20261201_0102"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fhir_endpoints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('provider_id', sa.Uuid(), nullable=False),
    sa.Column('base_url', sa.String(length=300), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('poll_cursor', sa.String(length=40), nullable=True),
    sa.Column('polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('poll_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider_orgs.id'], name=op.f('fk_fhir_endpoints_provider_id_provider_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fhir_endpoints')),
    sa.UniqueConstraint('provider_id', 'base_url', name=op.f('uq_fhir_endpoints_provider_id_base_url'))
    )
    op.create_table('fhir_subscriptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('provider_id', sa.Uuid(), nullable=False),
    sa.Column('client_pk', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('filter', sa.String(length=300), nullable=False),
    sa.Column('endpoint', sa.String(length=500), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('heartbeat_seconds', sa.Integer(), nullable=True),
    sa.Column('end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('events_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['provider_orgs.id'], name=op.f('fk_fhir_subscriptions_provider_id_provider_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fhir_subscriptions'))
    )
    with op.batch_alter_table('fhir_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fhir_subscriptions_provider_id_status'), ['provider_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_fhir_subscriptions_status_due_at'), ['status', 'due_at'], unique=False)


def downgrade():
    with op.batch_alter_table("fhir_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_subscriptions_status_due_at"))
        batch_op.drop_index(batch_op.f("ix_fhir_subscriptions_provider_id_status"))
    op.drop_table("fhir_subscriptions")
    op.drop_table("fhir_endpoints")
