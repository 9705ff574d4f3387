"""Partner apps: secret and public OAuth clients, county clients, authorization codes,
refresh tokens with families, tokens that act for a user's membership

Not tenant tables (read to establish the principal): no row-level security. The app role gets
its grants from the default privileges set in 20261122_0002.

Revision ID: 20261201_0501
Revises: 20261201_0201
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "20261201_0501"
down_revision = "20261201_0201"
branch_labels = None
depends_on = None

TWO = (
    "(CASE WHEN tenant_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN provider_id IS NULL THEN 0 ELSE 1 END) = 1"
)
THREE = (
    "(CASE WHEN tenant_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN provider_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN county_id IS NULL THEN 0 ELSE 1 END) = 1"
)
aware = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("county_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("redirect_uris", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("client_secret_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("secret_rotated_at", aware, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_oauth_clients_county_id_counties"), "counties", ["county_id"], ["id"]
        )
        batch_op.create_index(
            batch_op.f("ix_oauth_clients_county_id_name"), ["county_id", "name"], unique=True
        )
        batch_op.drop_constraint(batch_op.f("ck_oauth_clients_one_principal"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_oauth_clients_one_principal"), THREE)
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.alter_column("redirect_uris", server_default=None)

    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("county_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("membership_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("refresh_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("refresh_expires_at", aware, nullable=True))
        batch_op.add_column(sa.Column("rotated_at", aware, nullable=True))
        batch_op.add_column(sa.Column("family_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_oauth_tokens_county_id_counties"), "counties", ["county_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_oauth_tokens_user_id_users"), "users", ["user_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_oauth_tokens_membership_id_memberships"),
            "memberships", ["membership_id"], ["id"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_oauth_tokens_refresh_token_hash"), ["refresh_token_hash"]
        )
        batch_op.create_index(batch_op.f("ix_oauth_tokens_family_id"), ["family_id"])

    op.create_table(
        "oauth_authorization_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=False),
        sa.Column("auth_time", aware, nullable=False),
        sa.Column("expires_at", aware, nullable=False),
        sa.Column("used_at", aware, nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"], ["oauth_clients.id"],
            name=op.f("fk_oauth_authorization_codes_client_pk_oauth_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"], ["memberships.id"],
            name=op.f("fk_oauth_authorization_codes_membership_id_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_authorization_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_authorization_codes_code_hash")),
    )
    with op.batch_alter_table("oauth_authorization_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_authorization_codes_client_pk_nonce"), ["client_pk", "nonce"]
        )
        batch_op.create_index(
            batch_op.f("ix_oauth_authorization_codes_expires_at"), ["expires_at"]
        )


def downgrade():
    op.drop_table("oauth_authorization_codes")
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_family_id"))
        batch_op.drop_constraint(batch_op.f("uq_oauth_tokens_refresh_token_hash"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_oauth_tokens_membership_id_memberships"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_oauth_tokens_user_id_users"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_oauth_tokens_county_id_counties"), type_="foreignkey"
        )
        for column in (
            "family_id", "rotated_at", "refresh_expires_at", "refresh_token_hash",
            "membership_id", "user_id", "county_id",
        ):
            batch_op.drop_column(column)
    # Clients only a county could hold cannot survive the two-principal constraint.
    op.execute("DELETE FROM oauth_used_assertions WHERE client_pk IN "
               "(SELECT id FROM oauth_clients WHERE county_id IS NOT NULL)")
    op.execute("DELETE FROM oauth_tokens WHERE client_pk IN "
               "(SELECT id FROM oauth_clients WHERE county_id IS NOT NULL)")
    op.execute("DELETE FROM oauth_clients WHERE county_id IS NOT NULL")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_oauth_clients_one_principal"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_oauth_clients_one_principal"), TWO)
        batch_op.drop_index(batch_op.f("ix_oauth_clients_county_id_name"))
        batch_op.drop_constraint(
            batch_op.f("fk_oauth_clients_county_id_counties"), type_="foreignkey"
        )
        for column in ("secret_rotated_at", "client_secret_hash", "redirect_uris", "county_id"):
            batch_op.drop_column(column)
