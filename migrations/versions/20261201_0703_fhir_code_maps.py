"""fhir_code_maps: each provider's map from its EHR's own codes (system + code, e.g. BSeR
``5.1.2``) to Baton's businessStatus or decline-reason codes. Provider-owned like
fhir_endpoints: keyed by provider first, not a tenant table, no RLS; the app role gets its
grants from the default privileges set in 20261122_0002.

Revision ID: 20261201_0703
Revises: 20261201_0301
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "20261201_0703"
down_revision = "20261201_0301"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fhir_code_maps',
    sa.Column('provider_id', sa.Uuid(), nullable=False),
    sa.Column('system', sa.String(length=300), nullable=False),
    sa.Column('foreign_code', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider_orgs.id'], name=op.f('fk_fhir_code_maps_provider_id_provider_orgs')),
    sa.PrimaryKeyConstraint('provider_id', 'system', 'foreign_code', name=op.f('pk_fhir_code_maps'))
    )


def downgrade():
    op.drop_table("fhir_code_maps")
