"""The provider portal shows intake staff only what the referral's consent shares, and its
inbox costs the same few queries however many referrals it lists."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, select, update

from baton.platform.extensions import db
from baton.platform.models import Caregiver
from baton.platform.services import consent, referrals
from baton.tenants.context import acting_as
from tests.factories import make_concern, principal_of


def _referral(world, student, share, **caregiver):
    """A sent referral of ``student`` (district A) to Provider Alpha under a consent
    sharing ``share``; ``caregiver`` updates the student's caregiver first."""
    with acting_as(principal_of("navigator@a.test")):
        caregiver_id = db.session.scalars(
            select(Caregiver.id).where(Caregiver.student_id == student.id)
        ).first()
        if caregiver:
            db.session.execute(
                update(Caregiver).where(Caregiver.id == caregiver_id).values(**caregiver)
            )
        record = consent.record_consent(
            student.id,
            provider_id=world.pa.id,
            consenter="caregiver",
            caregiver_id=caregiver_id,
            method="signed",
            share_classes=list(share),
        )
        concern = make_concern(student.id, daily_functioning=True)
        referral = referrals.create_referral(
            student_id=student.id, concern_id=concern.id, provider_id=world.pa.id
        )
        db.session.commit()
        return referral.id, record.id


def test_the_portal_shows_only_the_consented_fields(app, world, login_as):
    student = world.students_a[1]
    with app.app_context():
        referral_id, _ = _referral(
            world,
            student,
            ["referral-reason"],
            email="family@example.test",
            allowed_channels=["phone"],
        )
    page = login_as("intake@pa.test").get(f"/provider/referrals/{referral_id}").text
    assert student.first_name in page  # identity travels with any active consent
    assert "Caregiver-of-" not in page and "+1-555-0101" not in page
    assert world.school_a.name not in page
    assert "Contact details were not consented" in page


def test_contacts_respect_do_not_call_and_allowed_channels(app, world, login_as):
    student = world.students_a[1]
    with app.app_context():
        referral_id, _ = _referral(
            world,
            student,
            ["referral-reason", "contact-details", "school-context"],
            do_not_call=True,
            allowed_channels=["sms"],
            email="family@example.test",
        )
    page = login_as("intake@pa.test").get(f"/provider/referrals/{referral_id}").text
    assert f"Caregiver-of-{student.first_name}" in page
    assert "do not call" in page and "+1-555-0101" not in page
    assert "family@example.test" not in page  # e-mail is not an allowed channel
    assert f"Grade 8 at {world.school_a.name}" in page


def test_a_revoked_consent_hides_the_student_everywhere_in_the_portal(app, world, login_as):
    student = world.students_a[1]
    with app.app_context():
        referral_id, consent_id = _referral(world, student, ["referral-reason", "contact-details"])
        with acting_as(principal_of("navigator@a.test")):
            consent.revoke_consent(consent_id, reason="family asked")
            db.session.commit()
    client = login_as("intake@pa.test")
    inbox = client.get("/provider").text
    assert "Consent no longer active" in inbox
    assert student.last_name not in inbox
    page = client.get(f"/provider/referrals/{referral_id}").text
    assert student.last_name not in page and "Caregiver-of-" not in page


def _inbox_statements(app) -> tuple[int, int]:
    from baton.platform.services.portal import provider_inbox

    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context(), acting_as(principal_of("intake@pa.test")):
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            rows = provider_inbox()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        db.session.rollback()
    return len(rows), len(statements)


def test_the_inbox_costs_a_fixed_number_of_queries(app, world):
    # The world's own referral shares these classes too: the same queries, more rows.
    few, few_statements = _inbox_statements(app)
    for student in world.students_a:
        with app.app_context():
            _referral(world, student, ["referral-reason", "contact-details", "status-feedback"])
    many, many_statements = _inbox_statements(app)
    assert many == few + 2
    assert many_statements == few_statements


def test_provider_pages_show_times_in_the_districts_zone(app, world, login_as):
    """Intake dates are typed in the district's local time, so they are shown in it too."""
    with app.app_context(), acting_as(principal_of("intake@pa.test")):
        referrals.transition_referral(world.referral_a.id, "accepted")
        referrals.transition_referral(
            world.referral_a.id,
            "scheduled",
            appointment=referrals.Appointment(at=datetime(2026, 12, 10, 16, 0, tzinfo=UTC)),
        )
        db.session.commit()
    client = login_as("intake@pa.test")
    page = client.get(f"/provider/referrals/{world.referral_a.id}").text
    assert "Thu 10 Dec 2026, 10:00" in page  # America/Chicago, the district's zone
    assert "America/Chicago" in page
    assert "Thu 10 Dec 2026, 10:00" in client.get("/provider").text
