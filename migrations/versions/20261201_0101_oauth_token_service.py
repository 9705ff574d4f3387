"""OAuth token service: registered clients, issued tokens (hashes only), used assertion ids

Not tenant tables (read to establish the principal, like memberships): no row-level security.
The app role gets its grants from the default privileges set in 20261122_0002.

Revision ID: 20261201_0101
Revises: 20261122_0008
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "20261201_0101"
down_revision = "20261122_0008"
branch_labels = None
depends_on = None

ONE_PRINCIPAL = (
    "(CASE WHEN tenant_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN provider_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade():
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("allowed_scopes", sa.Text(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("auth_method", sa.String(length=40), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("jwks_uri", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(ONE_PRINCIPAL, name=op.f("ck_oauth_clients_one_principal")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider_orgs.id"],
            name=op.f("fk_oauth_clients_provider_id_provider_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_oauth_clients_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_clients_provider_id_name"), ["provider_id", "name"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_oauth_clients_tenant_id_name"), ["tenant_id", "name"], unique=True
        )
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["oauth_clients.id"],
            name=op.f("fk_oauth_tokens_client_pk_oauth_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider_orgs.id"],
            name=op.f("fk_oauth_tokens_provider_id_provider_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_oauth_tokens_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oauth_tokens_token_hash")),
    )
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_tokens_client_pk_expires_at"), ["client_pk", "expires_at"]
        )
    op.create_table(
        "oauth_used_assertions",
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["oauth_clients.id"],
            name=op.f("fk_oauth_used_assertions_client_pk_oauth_clients"),
        ),
        sa.PrimaryKeyConstraint("client_pk", "jti", name=op.f("pk_oauth_used_assertions")),
    )
    with op.batch_alter_table("oauth_used_assertions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_used_assertions_expires_at"), ["expires_at"])


def downgrade():
    op.drop_table("oauth_used_assertions")
    op.drop_table("oauth_tokens")
    op.drop_table("oauth_clients")
