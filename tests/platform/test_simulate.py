"""``baton simulate`` drives days of activity through the services and the clock."""

from __future__ import annotations

import random

from sqlalchemy import text

from baton.platform.extensions import db
from baton.platform.simulate import simulate


def test_a_simulated_week_leaves_referrals_events_and_escalations(app, world, owner_engine):
    with app.app_context():
        counts = simulate(random.Random(7), days=7, per_day=1)
        db.session.commit()
    assert counts["referrals"] == 14  # two districts, one a day each
    with owner_engine.connect() as conn:
        referrals = conn.execute(text("SELECT count(*) FROM referrals")).scalar()
        events = conn.execute(text("SELECT count(*) FROM referral_events")).scalar()
        past = conn.execute(
            text("SELECT count(*) FROM referrals WHERE sent_at < now() - interval '3 days'")
        ).scalar()
    assert referrals == 14 + 2  # plus the world's own
    assert events >= 2 * referrals
    assert past > 0  # replayed at their moments, not all "now"
    assert counts["clock_actions"] > 0  # prompts and escalations happened along the way
