"""metric cohorts: referral facts, cohort, duration and case rollups (district and county),
a reason in the event rollups, audit samples and their cases

The district-side tables are tenant-owned (row-level security like every tenant table); the
county twins are read and written in system scope only (no policy). All rollups are derived
data without foreign keys. ``reason`` joins the event rollups' key: the rows and the watermark
are emptied so the next incremental run rebuilds every rollup from the event log (derived data,
nothing is lost). New indexes serve the incremental run's "what changed since" ranges.

Revision ID: 20261201_0301
Revises: 20261201_0602
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "20261201_0301"
down_revision = "20261201_0602"
branch_labels = None
depends_on = None

VISIBLE = "baton_tenant_visible(tenant_id)"
DIMENSIONS = ("provider_id", "tier", "preferred_language", "disability_or_iep", "grade")
COHORT_COUNTS = (
    "sent", "received", "accepted", "scheduled", "attended", "contacted",
    "appointment_outcomes", "no_shows", "bounced", "repeats", "high_need", "matured_30d",
    "engaged_30d", "attended_matured_30d", "continuing_30d",
)
TENANT_TABLES = (
    "referral_facts", "cohort_rollups", "duration_rollups", "case_rollups",
    "audit_samples", "audit_cases",
)
EVENT_KEYS = ("provider_id", "tier", "preferred_language", "disability_or_iep", "grade",
              "to_status")
CHANGED_SINCE = (
    ("contact_attempts", "at"),
    ("escalations", "opened_at"),
    ("escalations", "closed_at"),
    ("crisis_records", "opened_at"),
    ("crisis_records", "closed_at"),
)


def _dimensions():
    return [
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.String(length=1), nullable=False),
        sa.Column("preferred_language", sa.String(length=16), nullable=False),
        sa.Column("disability_or_iep", sa.Boolean(), nullable=False),
        sa.Column("grade", sa.String(length=4), nullable=False),
    ]


def _rollup_pair(name, extra_keys, values):
    """``name`` for districts and ``county_name`` for counties, same keys and values.
    ``extra_keys`` makes the key columns after the dimensions (fresh ones per table)."""
    keys = [c.name for c in extra_keys()]
    op.create_table(
        name,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        *_dimensions(),
        *extra_keys(),
        *[sa.Column(v, sa.Integer(), nullable=False) for v in values],
        sa.PrimaryKeyConstraint(
            "tenant_id", "week_start", "school_id", *DIMENSIONS, *keys, name=op.f(f"pk_{name}")
        ),
    )
    op.create_table(
        f"county_{name}",
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        *_dimensions(),
        *extra_keys(),
        *[sa.Column(v, sa.Integer(), nullable=False) for v in values],
        sa.PrimaryKeyConstraint(
            "county_id", "week_start", "tenant_id", *DIMENSIONS, *keys,
            name=op.f(f"pk_county_{name}"),
        ),
    )


def _facts():
    op.create_table(
        "referral_facts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("cohort_week", sa.Date(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        *_dimensions(),
        sa.Column("high_need", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stage", sa.SmallInteger(), nullable=False),
        sa.Column("appointment_outcome", sa.String(length=32), nullable=True),
        sa.Column("bounced", sa.Boolean(), nullable=False),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("engaged_30d", sa.Boolean(), nullable=True),
        sa.Column("continuing_30d", sa.Boolean(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "referral_id", name=op.f("pk_referral_facts")),
    )
    with op.batch_alter_table("referral_facts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_facts_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_referral_facts_tenant_id_cohort_week"),
            ["tenant_id", "cohort_week"],
            unique=False,
        )


def _audit_samples():
    op.create_table(
        "audit_samples",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("drawn_by", sa.Uuid(), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_audit_samples_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_audit_samples")),
    )
    with op.batch_alter_table("audit_samples", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_samples_tenant_id_quarter"), ["tenant_id", "quarter"], unique=False
        )
    op.create_table(
        "audit_cases",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sample_id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=True),
        sa.Column("crisis_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(length=24), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("finding", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.String(length=1000), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "referral_id"],
            ["referrals.tenant_id", "referrals.id"],
            name=op.f("fk_audit_cases_tenant_id_referral_id_referrals"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "crisis_id"],
            ["crisis_records.tenant_id", "crisis_records.id"],
            name=op.f("fk_audit_cases_tenant_id_crisis_id_crisis_records"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sample_id"],
            ["audit_samples.tenant_id", "audit_samples.id"],
            name=op.f("fk_audit_cases_tenant_id_sample_id_audit_samples"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_audit_cases_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_audit_cases")),
        sa.UniqueConstraint(
            "tenant_id",
            "sample_id",
            "position",
            name=op.f("uq_audit_cases_tenant_id_sample_id_position"),
        ),
    )


def _event_reason(table, leading):
    """Empty the derived rows, then add ``reason`` to the key."""
    op.execute(f"DELETE FROM {table}")
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reason", sa.String(length=32), nullable=False, server_default="")
        )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column("reason", server_default=None)
        batch_op.drop_constraint(f"pk_{table}", type_="primary")
        batch_op.create_primary_key(f"pk_{table}", [*leading, *EVENT_KEYS, "reason"])


def upgrade():
    _rollup_pair("cohort_rollups", list, COHORT_COUNTS)
    _rollup_pair(
        "duration_rollups",
        lambda: [
            sa.Column("measure", sa.String(length=24), nullable=False),
            sa.Column("bucket", sa.Integer(), nullable=False),
        ],
        ["referrals"],
    )
    _rollup_pair(
        "case_rollups",
        lambda: [
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("action", sa.String(length=8), nullable=False),
            sa.Column("outcome", sa.String(length=24), nullable=False),
        ],
        ["cases"],
    )
    _facts()
    _audit_samples()
    _event_reason("district_rollups", ["tenant_id", "week_start", "school_id"])
    _event_reason("county_rollups", ["county_id", "week_start", "tenant_id"])
    op.execute("DELETE FROM rollup_watermarks")
    for table, column in CHANGED_SINCE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table}"
                f" USING ({VISIBLE}) WITH CHECK ({VISIBLE})"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY tenant_isolation ON {table}")
    for table, column in CHANGED_SINCE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
    op.execute("DELETE FROM rollup_watermarks")
    for table, leading in (
        ("district_rollups", ["tenant_id", "week_start", "school_id"]),
        ("county_rollups", ["county_id", "week_start", "tenant_id"]),
    ):
        op.execute(f"DELETE FROM {table}")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", [*leading, *EVENT_KEYS])
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("reason")
    for table in ("audit_cases", "audit_samples", "referral_facts"):
        op.drop_table(table)
    for name in ("cohort_rollups", "duration_rollups", "case_rollups"):
        op.drop_table(f"county_{name}")
        op.drop_table(name)
