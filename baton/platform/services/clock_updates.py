"""Writing what the clock consumed on a chunk of referrals as one UPDATE.

The ORM's flush sends one UPDATE per row for a versioned model (it checks each row's version
on its own), which made a round trip per referral the sweep's largest cost. Here the chunk's
new clock values travel in one ``UPDATE ... FROM (VALUES ...)`` that checks and bumps each
row's version just as the ORM would.
"""

from __future__ import annotations

from sqlalchemy import DateTime, Integer, Uuid, cast, column, inspect, null, update, values
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.orm.exc import StaleDataError

from baton.platform.extensions import db
from baton.platform.models import Referral
from baton.platform.models.base import utcnow
from baton.platform.models.referrals import DUE_COLUMNS

CLOCK_COLUMNS = (*DUE_COLUMNS, "next_due_at", "bounce_decision_due_since")
AWARE = DateTime(timezone=True)


def write_clocks(referrals: list[Referral]) -> None:
    """Write the clock columns the clock changed on ``referrals`` (loaded in this session,
    under a row lock) in one UPDATE; unchanged ones are left alone, version included. The
    referrals are then expired, so they reload what was written rather than write it again.

    Raises RuntimeError if anything but a clock column changed (a status change belongs to
    transition_referral, and would otherwise be lost), StaleDataError if a row's version
    moved since it was read."""
    changes = {referral: _clock_changes(referral) for referral in referrals}
    changed = [referral for referral, names in changes.items() if names]
    if changed:
        names = sorted(set().union(*changes.values()))
        # RETURNING counts the matched rows: SQLite's driver gives no rowcount after a WITH.
        statement = _update(changed, names).returning(Referral.id)
        written = db.session.scalars(statement.execution_options(synchronize_session=False))
        if len(written.all()) != len(changed):
            raise StaleDataError(f"{len(changed)} referrals to write, fewer matched")
    for referral in referrals:
        db.session.expire(referral)


def _clock_changes(referral: Referral) -> set[str]:
    state = inspect(referral)
    touched = set(state.manager) - state.unmodified
    if not touched <= set(CLOCK_COLUMNS):
        raise RuntimeError(f"the clock changed {sorted(touched - set(CLOCK_COLUMNS))}")
    return {name for name in touched if get_history(referral, name).has_changes()}


def _update(referrals: list[Referral], names: list[str]):
    """UPDATE referrals SET <names> = new values, version + 1 FROM (VALUES ...) — as an ORM
    statement, so the scoping hook adds the district's criteria."""
    rows = [(r.id, r.version, *(_typed(getattr(r, name)) for name in names)) for r in referrals]
    changes = (
        values(
            column("id", Uuid),
            column("version", Integer),
            *(column(name, AWARE) for name in names),
            name="changes",
        )
        .data(rows)
        .cte("changes")  # WITH changes(...) AS (VALUES ...): PostgreSQL and SQLite alike
    )
    new_values = {name: changes.c[name] for name in names}
    return (
        update(Referral)
        .where(Referral.id == changes.c.id, Referral.version == changes.c.version)
        .values({**new_values, "version": Referral.version + 1, "updated_at": utcnow()})
    )


def _typed(moment):
    """NULL in VALUES has no type (PostgreSQL takes a column of only NULLs for text)."""
    return moment if moment is not None else cast(null(), AWARE)
