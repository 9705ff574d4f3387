"""The family plan page: printable, in the family's language (English and Spanish)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text


def _schedule(app, world, when):
    from baton.platform.extensions import db
    from baton.platform.services import referrals as svc
    from baton.tenants.context import acting_as
    from tests.factories import principal_of

    with app.app_context():
        with acting_as(principal_of("intake@pa.test")):
            svc.transition_referral(world.referral_a.id, "accepted")
            svc.transition_referral(
                world.referral_a.id,
                "scheduled",
                appointment=svc.Appointment(
                    at=when,
                    place="Alpha Clinic, 12 Main St",
                    what_to_bring="Medicaid card",
                    family_contact="Ms. Rivera, 555-0199",
                ),
            )
        db.session.commit()


def _set_language(owner_engine, world, language):
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE caregivers SET preferred_language = :l WHERE student_id = :s"),
            {"l": language, "s": world.referral_a.student_id},
        )


def test_family_plan_in_spanish_for_a_spanish_speaking_family(app, world, login_as, owner_engine):
    _schedule(app, world, datetime(2026, 12, 3, 21, 30, tzinfo=UTC))
    _set_language(owner_engine, world, "es")
    page = login_as("navigator@a.test").get(f"/referrals/{world.referral_a.id}/family-plan")
    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    assert "Plan para la familia" in page.text
    assert "Su cita con Provider Alpha" in page.text
    assert "Alpha Clinic, 12 Main St" in page.text and "Medicaid card" in page.text
    assert "Ms. Rivera, 555-0199" in page.text
    assert "diciembre" in page.text  # the date in Spanish, in the district's time zone
    assert "15:30" in page.text  # 21:30 UTC is 15:30 in America/Chicago


def test_family_plan_in_english_and_before_scheduling(app, world, login_as):
    page = login_as("navigator@a.test").get(f"/referrals/{world.referral_a.id}/family-plan")
    assert page.status_code == 200
    assert "Family plan" in page.text
    assert "Not scheduled yet" in page.text


def test_unsupported_language_falls_back_to_english(app, world, login_as, owner_engine):
    _set_language(owner_engine, world, "so")
    page = login_as("navigator@a.test").get(f"/referrals/{world.referral_a.id}/family-plan")
    assert '<html lang="en">' in page.text
