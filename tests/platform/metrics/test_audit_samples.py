"""Audit samples: reproducible from their seed, stratified, and the rubric's pre-checks flag
defects seeded into otherwise clean cases."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from baton.platform.errors import Conflict, InvalidInput
from baton.platform.extensions import db
from baton.platform.models import AuditCase, AuditLog, Consent, Referral
from baton.platform.models.base import travel_to, utcnow
from baton.platform.services import audit_samples
from baton.tenants.context import acting_as, system_scope
from tests.factories import principal_of


def _population(crisis=3, high=10, other=50):
    ids = iter(sorted(str(uuid.UUID(int=n)) for n in range(crisis + high + other)))
    return (
        [[next(ids), "crisis"] for _ in range(crisis)]
        + [[next(ids), "high-need"] for _ in range(high)]
        + [[next(ids), "other"] for _ in range(other)]
    )


def test_the_draw_is_a_function_of_population_seed_and_size():
    population = _population()
    first = audit_samples.pick(population, 1234, 15)
    assert audit_samples.pick(population, 1234, 15) == first
    assert audit_samples.pick(list(population), 1234, 15) == first
    assert audit_samples.pick(population, 1235, 15) != first
    assert len({case[0] for case in first}) == 15


def test_the_draw_is_stratified_so_crisis_and_high_need_cases_appear():
    strata = [s for _id, s in audit_samples.pick(_population(), 99, 15)]
    assert (strata.count("crisis"), strata.count("high-need"), strata.count("other")) == (3, 4, 8)
    # A stratum short of cases leaves its places to the others.
    strata = [s for _id, s in audit_samples.pick(_population(crisis=1, high=2, other=30), 5, 12)]
    assert (strata.count("crisis"), strata.count("high-need"), strata.count("other")) == (1, 2, 9)
    # A small quarter is taken whole.
    assert len(audit_samples.pick(_population(crisis=1, high=1, other=3), 5, 20)) == 5


def _checks(case) -> dict[str, str]:
    return {c["rule"]: c["result"] for c in case.checks}


def _draw(app, when, seed=42):
    with app.app_context(), travel_to(when), acting_as(principal_of("auditor@a.test")):
        quarter = audit_samples.current_quarter(when.date())
        sample = audit_samples.draw_sample(quarter, size=10, seed=seed)
        db.session.commit()
        _sample, cases = audit_samples.access_sample(sample.id)
        db.session.commit()
        return (
            sample.id,
            sample.population,
            [(c.referral_id, c.crisis_id, _checks(c)) for c in cases],
        )


def test_a_stored_sample_is_drawn_again_from_its_seed(app, world):
    sample_id, population, cases = _draw(app, utcnow(), seed=11)
    again = audit_samples.pick(population, 11, 10)
    assert [c[0] for c in again] == [str(r or k) for r, k, _checks in cases]


def test_clean_cases_pass_and_seeded_defects_are_flagged(app, world, owner_engine):
    referral = world.referral_a
    sent = _sent_at(app, referral.id)
    _, _, cases = _draw(app, sent + timedelta(hours=1))
    checks = next(c for r, _k, c in cases if r == referral.id)
    assert checks == {"tier": "pass", "warm-handoff": "n/a", "consent": "pass", "escalation": "n/a"}
    crisis = next(c for r, k, c in cases if k is not None)
    assert crisis["tier"] == "pass" and crisis["caregiver-notified"] == "fail"

    with owner_engine.begin() as conn:  # the defects, seeded as the owner
        conn.execute(
            update(Referral.__table__)
            .where(Referral.id == referral.id)
            .values(tier="A", contact_confirmed_at=sent + timedelta(hours=30))
        )
        conn.execute(
            update(Consent.__table__)
            .where(Consent.id == world.consent_a.id)
            .values(obtained_at=sent + timedelta(minutes=10))
        )
    _, _, cases = _draw(app, sent + timedelta(days=2))
    checks = next(c for r, _k, c in cases if r == referral.id)
    # Tier A stored, answers give B; contact after 30 h (standard 24 h); consent after
    # sending; the escalation that fell due was opened but never followed.
    assert checks == {
        "tier": "fail",
        "warm-handoff": "fail",
        "consent": "fail",
        "escalation": "fail",
    }


def test_a_high_need_referral_never_scheduled_needs_a_followed_escalation(app, world, owner_engine):
    referral = world.referral_a
    sent = _sent_at(app, referral.id)
    with owner_engine.begin() as conn:
        conn.execute(
            update(Referral.__table__)
            .where(Referral.id == referral.id)
            .values(high_need=True, contact_confirmed_at=sent + timedelta(hours=2))
        )
        conn.execute(
            text("UPDATE escalations SET status = 'closed', resolution = 'alternative-plan'")
        )
    _, _, cases = _draw(app, sent + timedelta(days=8))
    checks = next(c for r, _k, c in cases if r == referral.id)
    assert checks["warm-handoff"] == "pass" and checks["escalation"] == "pass"
    with owner_engine.begin() as conn:
        conn.execute(text("DELETE FROM escalations"))
    _, _, cases = _draw(app, sent + timedelta(days=8), seed=43)
    checks = next(c for r, _k, c in cases if r == referral.id)
    assert checks["escalation"] == "fail"


def test_findings_complete_the_sample_and_reads_are_audited(app, world, login_as):
    client = login_as("auditor@a.test")
    sample_id = world.audit_sample_a.id
    page = client.get(f"/metrics/audits/{sample_id}").text
    assert "Case 1" in page and "tier" in page
    with app.app_context(), system_scope("test: the sample's cases"):
        case_ids = db.session.scalars(
            select(AuditCase.id)
            .where(AuditCase.sample_id == sample_id)
            .order_by(AuditCase.position)
        ).all()
        reads = db.session.scalars(
            select(AuditLog.object_type).where(AuditLog.tenant_id == world.tenant_a.id)
        ).all()
    assert "referral" in reads and "crisis" in reads  # the pre-checks' reads
    from tests.conftest import csrf_token

    token = csrf_token(page)
    bad = client.post(
        f"/metrics/audits/{sample_id}/cases/{case_ids[0]}",
        data={"csrf_token": token, "finding": "maybe"},
    )
    assert bad.status_code == 422 and "confirmed" in bad.text
    for case_id in case_ids:
        done = client.post(
            f"/metrics/audits/{sample_id}/cases/{case_id}",
            data={"csrf_token": token, "finding": "confirmed", "notes": "checked the file"},
        )
        assert done.status_code == 302
    assert "All findings recorded." in client.get(f"/metrics/audits/{sample_id}").text


def test_bad_draws_are_refused_with_reasons(app, world):
    with app.app_context(), acting_as(principal_of("auditor@a.test")):
        with pytest.raises(InvalidInput) as bad_quarter:
            audit_samples.draw_sample("2026-Q5")
        with pytest.raises(InvalidInput) as bad_size:
            audit_samples.draw_sample("2026-Q1", size=25)
        with pytest.raises(Conflict):
            audit_samples.draw_sample("2019-Q1")
        db.session.rollback()
    assert "quarter" in bad_quarter.value.fields and "size" in bad_size.value.fields


def _sent_at(app, referral_id):
    with app.app_context(), system_scope("test: when was it sent"):
        return db.session.scalar(select(Referral.sent_at).where(Referral.id == referral_id))
