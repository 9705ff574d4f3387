"""axe-core (from the npm registry, injected into the page) finds no serious or critical
violation on the main pages, and the forms work with the keyboard alone."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, sign_in
from tests.browser.world import add_services, concern_for, crisis_record_of
from tests.conftest import csrf_token
from tests.delivery_support import fail, fhir_route_referral, quarantine


def _service_id(app):
    from sqlalchemy import select

    from baton.platform.extensions import db
    from baton.platform.models import Service
    from baton.tenants.context import system_scope

    with app.app_context(), system_scope("test: a service id"):
        return db.session.scalars(
            select(Service.id).where(Service.name == "Alpha portal intake")
        ).one()


def _status_link(app, world) -> str:
    from baton.platform.extensions import db
    from baton.platform.models import Referral
    from baton.platform.services.status_links import issue_status_link
    from baton.tenants.context import acting_as
    from tests.factories import principal_of

    with app.test_request_context(), acting_as(principal_of("navigator@a.test")):
        token = issue_status_link(
            db.session.get(Referral, (world.tenant_a.id, world.referral_a.id))
        )
        db.session.commit()
    return f"/status-update?token={token}"


def _failed_push(app, world):
    """A referral pushed to provider pa's EHR whose push failed, and a change the EHR made
    that Baton refused: the FHIR delivery state at its fullest."""
    referral_id = fhir_route_referral(app, world)
    fail(app, world, referral_id)
    quarantine(app, world, referral_id)
    return referral_id


def test_main_pages_have_no_serious_or_critical_violations(app, world, new_page):
    add_services(app)
    student = world.students_a[1]
    concern = concern_for(app, world, student)
    service = _service_id(app)
    referral = world.referral_a.id
    pushed = _failed_push(app, world)
    pages = {
        "navigator@a.test": [
            "/tracker",
            "/refer?q=Stu",
            "/refer/new-student",
            f"/refer/{student.id}",
            f"/refer/concern/{concern}",
            f"/refer/concern/{concern}/consent?service={service}",
            f"/refer/concern/{concern}/handoff?service={service}",
            f"/refer/referral/{referral}/plan",
            f"/referrals/{referral}",
            f"/referrals/{referral}/family-plan",
            "/caseload",
            f"/crisis/{crisis_record_of(app, world)}",
            "/students",
            "/notifications",
        ],
        "escalation_lead@a.test": ["/escalations"],
        "intake@pa.test": ["/provider", f"/provider/referrals/{referral}"],
        "provider_admin@pa.test": ["/admin/apps/fhir-codes", "/provider/services"],
        "district_admin@a.test": [
            "/admin",
            "/admin/checklist",
            "/admin/deliveries",
            f"/referrals/{pushed}",
            "/admin/apps",
            "/admin/apps/new",
        ],
    }
    found = {}
    for email, urls in pages.items():
        page = new_page()
        sign_in(page, email)
        for url in urls:
            response = page.goto(url)
            assert response.status == 200, (url, response.status)
            violations = axe_violations(page)
            if violations:
                found[url] = violations
    anonymous = new_page()
    for url in ("/login", _status_link(app, world)):
        assert anonymous.goto(url).status == 200
        if violations := axe_violations(anonymous):
            found[url.split("?")[0]] = violations
    assert found == {}


TAB_REACHES_EVERY_CONTROL = """() => {
  // One tab stop per control, and one per radio group (arrow keys move inside a group).
  const controls = [...document.querySelectorAll('input, select, textarea, button')]
    .filter(e => e.type !== 'hidden' && !e.disabled && e.offsetParent !== null);
  const stops = new Map();
  controls.forEach(e => {
    const key = e.type === 'radio' ? 'radio:' + e.name : e;
    if (!stops.has(key)) stops.set(key, String(stops.size));
    e.dataset.kb = stops.get(key);
  });
  return stops.size;
}"""


FOCUSED = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  const shown = s.outlineStyle !== 'none' && s.outlineWidth !== '0px';
  return [e.dataset.kb ?? null, shown || e === document.body ? '' : e.outerHTML.slice(0, 120)];
}"""


def _tab_through(page, presses: int) -> tuple[set, bool]:
    """Tab ``presses`` times from the top: which controls took focus, and whether every
    focused elements showed no focus indicator."""
    page.locator("body").focus()
    reached, unseen = set(), []
    for _ in range(presses):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUSED)
        if state[0] is not None:
            reached.add(state[0])
        if state[1]:
            unseen.append(state[1])
    return reached, unseen


def test_every_form_control_is_reachable_by_tab_with_visible_focus(app, world, new_page):
    add_services(app)
    concern = concern_for(app, world, world.students_a[1])
    page = new_page()
    sign_in(page, "navigator@a.test")
    for url in (
        f"/refer/{world.students_a[1].id}",
        f"/referrals/{world.referral_a.id}",
        "/tracker",
        f"/refer/concern/{concern}/consent?service={_service_id(app)}",
    ):
        page.goto(url)
        count = page.evaluate(TAB_REACHES_EVERY_CONTROL)
        links = page.locator("a[href]").count()
        reached, unseen = _tab_through(page, 3 * count + links + 5)  # date inputs: 3 stops
        assert len(reached) == count, (url, count, len(reached))
        assert unseen == [], url


def test_admin_retries_a_failed_push_with_the_keyboard_alone(app, world, new_page):
    """Every control of the failed-deliveries, app registration and referral pages takes
    focus by Tab; Enter on a Retry button queues the delivery again."""
    pushed = _failed_push(app, world)
    page = new_page()
    sign_in(page, "district_admin@a.test")
    for url in ("/admin/deliveries", "/admin/apps/new", f"/referrals/{pushed}"):
        page.goto(url)
        count = page.evaluate(TAB_REACHES_EVERY_CONTROL)
        reached, unseen = _tab_through(page, count + page.locator("a[href]").count() + 5)
        assert len(reached) == count and unseen == [], url
    page.locator("#retry").get_by_role("button", name="Retry").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Done: retry.")
    expect(page.locator("#fhir")).to_contain_text("Pending: first attempt")
    page.goto("/admin/deliveries")
    expect(page.locator("#fhir + p")).to_contain_text("No failed FHIR deliveries")


def test_skip_link_is_the_first_stop_and_moves_to_the_content(app, world, new_page):
    page = new_page()
    sign_in(page, "navigator@a.test")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_triage_form_works_with_the_keyboard_alone(app, world, new_page):
    """Select, type, Space and arrow keys on the radios, Enter on the button."""
    page = new_page()
    sign_in(page, "navigator@a.test")
    page.goto(f"/refer/{world.students_a[1].id}")
    page.get_by_label("Where the concern came from").focus()
    page.keyboard.press("ArrowDown")  # attendance-flag
    page.keyboard.press("Tab")
    page.keyboard.type("Missed nine days this month")
    for name in page.locator("input[type=radio][value=yes]").evaluate_all(
        "els => els.map(e => e.name)"
    ):
        page.keyboard.press("Tab")  # into the group: focus on "Yes"
        page.keyboard.press("Space" if name == "q_daily_functioning" else "ArrowRight")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Save concern and see the tier")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tier B for StuA1 OnlyAFamily1")


def test_escalation_is_resolved_with_the_keyboard_alone(app, world, new_page):
    page = new_page()
    sign_in(page, "escalation_lead@a.test")
    page.get_by_label("Resolution").focus()
    page.keyboard.press("ArrowDown")  # alternative plan
    page.keyboard.press("Tab")
    page.keyboard.type("Family chose school counselling")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Escalation closed.")


def test_login_errors_sit_next_to_the_field(app, world, new_page):
    page = new_page()
    page.goto("/login")
    page.get_by_role("button", name="Sign in").press("Enter")
    expect(page.locator(".field.has-error").first).to_be_visible()
    assert csrf_token(page.content())
