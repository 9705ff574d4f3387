"""Hostile input to every HTML form and query string, walked from the app's URL map.

Each POST route's form is found on the pages its user can open (so a new form is swept as
soon as a page shows it); each field in turn gets what a user can type or a script can post —
empty, 10k characters, NUL, emoji and bytes that are not UTF-8, negative and huge numbers,
impossible dates, unknown choices, ids that are not ids and ids of district B's rows — and
every form goes once without its CSRF token and once with each field twice. Each GET route
gets the query parameters it reads (recorded as it runs) with the same values. Never a 5xx;
a refusal is a page with the reason on it (a 4xx, or 200 with the message), and a refused
POST wrote nothing.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select, text
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException

from baton.platform.extensions import db
from baton.platform.models import FhirMessage, Referral
from baton.platform.permissions import PERMISSIONS
from baton.tenants.context import system_scope
from baton.tenants.scoping import TenantScoped, model_for_arg
from tests.conftest import login
from tests.platform.hostile import (
    CHOICE_VALUES,
    DATE_VALUES,
    NUL,
    NUMBER_VALUES,
    TEXT_VALUES,
    changed,
    form_body,
    forms_of,
    path_of,
    write_counts,
)

# Swept by their own modules: the JSON API (tests/platform/api/test_bad_input.py), /fhir
# (tests/fhir_gateway/test_bad_input.py) and OAuth (tests/platform/oauth/test_bad_input.py).
OTHER_SWEEPS = ("/api/", "/fhir", "/oauth/", "/.well-known/")
SKIP_ENDPOINTS = {
    "static",  # files, no input
    "health.healthz",  # no input
    "health.readyz",
}
# Who uses a route, by the permission its view requires: the first role that holds it.
ROLE_ORDER = (
    "navigator@a.test",
    "escalation_lead@a.test",
    "district_admin@a.test",
    "auditor@a.test",
    "referrer@a.test",
    "provider_admin@pa.test",
    "intake@pa.test",
    "commissioner@test.test",
)
ROLE_OF = {
    "navigator@a.test": "navigator",
    "escalation_lead@a.test": "escalation_lead",
    "district_admin@a.test": "district_admin",
    "auditor@a.test": "auditor",
    "referrer@a.test": "referrer",
    "provider_admin@pa.test": "provider_admin",
    "intake@pa.test": "provider_intake",
    "commissioner@test.test": "commissioner",
}
MESSAGE = re.compile(r'class="[^"]*\berror\b|role="alert"')
STATUS_LINK = "status-link"  # the one-link page's "user": no sign-in, the token in the URL


# Routes that only one kind of holder of their permission may use: the FHIR code map is a
# provider's (district admins hold apps.manage too, and get 403 there).
USER_OF_BLUEPRINT = {"fhir_codes": "provider_admin@pa.test"}


def _user_for(app, endpoint: str) -> str | None:
    """A user allowed to use the route (None: anyone, signed in or not)."""
    if endpoint.startswith("status_link."):
        return STATUS_LINK
    for blueprint, user in USER_OF_BLUEPRINT.items():
        if blueprint in endpoint.split("."):
            return user
    permission = getattr(app.view_functions[endpoint], "required_permission", None)
    if permission is None:
        return "navigator@a.test"  # open routes (sign-in, landing): a signed-in user too
    return next(e for e in ROLE_ORDER if permission in PERMISSIONS[ROLE_OF[e]])


class Sweep:
    """The world's ids and one signed-in client per user, for the whole sweep."""

    def __init__(self, app, world, owner_engine):
        self.app, self.world, self.engine = app, world, owner_engine
        self.clients: dict[str, object] = {}
        self.pages: dict[str, dict[str, str]] = {}  # user -> page url -> html
        self.problems: list[str] = []
        self.requests = 0
        self.counts = write_counts(owner_engine)  # as of the last request
        self.track_writes = False
        self.shared_swept: set[tuple] = set()

    def client(self, user: str):
        if user not in self.clients:
            client = self.app.test_client()
            if user != STATUS_LINK:
                assert login(client, user).status_code == 302
            self.clients[user] = client
        return self.clients[user]

    def own_ids(self, rule) -> dict | None:
        values = {}
        for arg in rule.arguments:
            found = self._row_of(arg, self.world.tenant_a.id)
            if found is None:
                return None
            values[arg] = found
        return values

    def _row_of(self, arg: str, tenant_id):
        preferred = {
            "referral_id": self.world.referral_a.id,
            "student_id": self.world.students_a[0].id,
        }
        if arg in preferred:
            return preferred[arg]
        if arg == "client_id":
            from baton.platform.oauth.models import OAuthClient

            with self.app.app_context(), system_scope("test: an app of the district"):
                return db.session.scalars(
                    select(OAuthClient.client_id).where(OAuthClient.tenant_id == tenant_id)
                ).first()
        model = model_for_arg(arg)
        assert model is not None and issubclass(model, TenantScoped), arg
        with self.app.app_context(), system_scope("test: a row of the district"):
            stmt = select(model.id).where(model.tenant_id == tenant_id)
            if model is FhirMessage:  # the failed one: its retry form is shown
                stmt = stmt.where(FhirMessage.status == "failed")
            return db.session.scalars(stmt.limit(1)).first()

    def foreign_id(self, field: str) -> str:
        """An id of district B's row of the model the field names (any B row otherwise)."""
        name = field.rsplit("-", 1)[-1]
        model = model_for_arg(name) or {"message_id": FhirMessage}.get(name) or Referral
        if not issubclass(model, TenantScoped):
            model = Referral
        with self.app.app_context(), system_scope("test: a row of another district"):
            row = db.session.scalars(
                select(model.id).where(model.tenant_id == self.world.tenant_b.id).limit(1)
            ).first()
        return str(row or self.world.referral_b.id)

    def call(self, user: str, method: str, url: str, pairs=None, what: str = ""):
        self.requests += 1
        client = self.client(user)
        try:
            if method == "GET":
                response = client.get(url)
            else:
                body = form_body(pairs or [])
                response = client.post(
                    url, data=body, content_type="application/x-www-form-urlencoded"
                )
        except Exception as exc:  # the test app propagates what would be a 500
            self.problems.append(f"500 {method} {url} {what}: {type(exc).__name__} {exc!s:.300}")
            return _Raised()
        if response.status_code >= 500:
            self.problems.append(f"{response.status_code} {method} {url} {what}")
        if method == "GET" and self.track_writes:  # a page view may audit; not a refusal
            self.counts = write_counts(self.engine)
        return response


class _Raised:
    """Stands for the 500 a propagated exception would have been."""

    status_code = 500
    text = ""
    mimetype = "text/html"


@pytest.fixture
def sweep(app, world, owner_engine):
    """District A with one of every row a form acts on: a directory service, a partner app, a
    FHIR-route referral whose push failed, a failed e-mail, a live status link, a crisis."""
    from baton.platform.models import ProviderOrg
    from baton.platform.services import status_links
    from baton.platform.services.provisioning import create_service
    from tests.delivery_support import fail, fhir_route_referral
    from tests.oauth_support import register_app

    for tenant in (world.tenant_a, world.tenant_b):
        register_app(app, tenant_id=tenant.id, name=f"App of {tenant.name}")
    with app.app_context(), system_scope("test fixtures"):
        service, _ = create_service(
            db.session.get(ProviderOrg, world.pa.id),
            "Counselling",
            service_type="bh-counseling",
            intake_route="portal",
            languages=["en", "es"],
            modalities=["in-person"],
            insurance_accepted=["medicaid"],
            capacity=5,
            current_wait_days=7,
        )
        world.service_id = service.id
        referral = db.session.get(Referral, (world.tenant_a.id, world.referral_a.id))
        world.link_token = status_links.issue_status_link(referral)
        db.session.commit()
    fail(app, world, fhir_route_referral(app, world))
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE notifications SET email_status = 'failed', email_error = 'bounced' "
                "WHERE id = (SELECT id FROM notifications WHERE tenant_id = :t LIMIT 1)"
            ),
            {"t": world.tenant_a.id},
        )
    return Sweep(app, world, owner_engine)


def _query_for(sweep: Sweep, endpoint: str) -> dict:
    """Query strings a page needs to show its form (the wizard carries the chosen service,
    the one-link page its token)."""
    if endpoint in ("wizard.consent", "wizard.handoff"):
        return {"service": str(sweep.world.service_id)}
    if endpoint.startswith("status_link."):
        return {"token": sweep.world.link_token}
    return {}


def _html_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or rule.rule.startswith(OTHER_SWEEPS):
            continue
        yield rule


def _url(sweep: Sweep, rule) -> str | None:
    ids = sweep.own_ids(rule)
    if ids is None:
        return None
    url = sweep.app.url_map.bind("localhost").build(rule.endpoint, ids)
    query = _query_for(sweep, rule.endpoint)
    return f"{url}?{urlencode(query)}" if query else url


def _crawl(sweep: Sweep, user: str) -> dict[str, str]:
    """Every GET page the user may open (with district A's ids): url -> html."""
    if user in sweep.pages:
        return sweep.pages[user]
    pages = {}
    for rule in _html_rules(sweep.app):
        if "GET" not in rule.methods or not _allowed(sweep.app, rule.endpoint, user):
            continue
        url = _url(sweep, rule)
        if url is None:
            continue
        response = sweep.call(user, "GET", url)
        if response.status_code == 200 and response.mimetype == "text/html":
            pages[url] = response.text

    sweep.pages[user] = pages
    return pages


def _allowed(app, endpoint: str, user: str) -> bool:
    if (user == STATUS_LINK) != endpoint.startswith("status_link."):
        return False
    permission = getattr(app.view_functions[endpoint], "required_permission", None)
    return permission is None or permission in PERMISSIONS[ROLE_OF[user]]


def _forms_posting_to(sweep: Sweep, user: str, endpoint: str):
    """(page url, form) for each form on the user's pages that posts to ``endpoint``."""
    adapter = sweep.app.url_map.bind("localhost")
    for page_url, html in _crawl(sweep, user).items():
        for form in forms_of(html, page_url):
            if form.method != "post":
                continue
            try:
                target, _ = adapter.match(path_of(form.action), method="POST")
            except HTTPException:
                continue
            if target == endpoint:
                yield page_url, form


def _signature(form) -> tuple:
    """What tells a page's forms apart: the field names and the hidden action's value."""
    hidden = tuple(sorted((f["name"], f["value"]) for f in form.fields if f["kind"] == "hidden"))
    names = tuple(f["name"] for f in form.fields if not f["name"].endswith("csrf_token"))
    return names, tuple(h for h in hidden if h[0].endswith("action"))


def _fresh(sweep: Sweep, user: str, page_url: str, signature):
    """The same form from the page as it is now (its version, its token), or None."""
    html = sweep.call(user, "GET", page_url).text
    sweep.pages.get(user, {})[page_url] = html
    return next(
        (f for f in forms_of(html, page_url) if f.method == "post" and _signature(f) == signature),
        None,
    )


def _values_for(sweep: Sweep, name: str, kind: str, first: bool) -> dict:
    """What the field gets, by its kind. NUL is refused before any view runs, the same for
    every field: it goes to the form's first field only."""
    values = dict(TEXT_VALUES, nul=NUL) if first else dict(TEXT_VALUES)
    short = name.rsplit("-", 1)[-1]
    numeric = short in ("version", "size", "seed") or "hours" in short or "attempts" in short
    if kind == "number" or numeric:
        values |= NUMBER_VALUES
    if kind in ("date", "datetime-local") or short.endswith(("_at", "_on", "date")):
        values |= DATE_VALUES
    if kind in ("select", "radio", "checkbox") or short.endswith("_id") or short == "action":
        values |= CHOICE_VALUES
    if short.endswith("_id"):
        values["not-uuid"] = "not-a-uuid"
        values["foreign"] = sweep.foreign_id(name)
    return values


def _replace(pairs, name: str, value) -> list:
    kept = [(k, v) for k, v in pairs if k != name]
    return [*kept, (name, value)]


def _check_refusal(sweep: Sweep, response, what: str) -> None:
    """A refused POST: a page with the reason on it, nothing written."""
    after = write_counts(sweep.engine)
    if 400 <= response.status_code < 500:
        if not MESSAGE.search(response.text):
            sweep.problems.append(f"{response.status_code} without a message: {what}")
        diff = changed(sweep.counts, after)
        if diff:
            sweep.problems.append(f"refused but wrote {diff}: {what}")
    sweep.counts = after


def _sweep_form(sweep: Sweep, user: str, endpoint: str, page_url: str, form) -> int:
    """Each field in turn with each hostile value; then without CSRF; then every field twice.
    The hidden fields every action form of a page carries (its action, its version) are read
    by one code path: they are swept on the endpoint's first form only."""
    signature = _signature(form)
    sent = 0
    first = True
    for name, kind in form.kinds().items():
        if name.endswith("csrf_token") or kind in ("submit", "button"):
            continue
        shared = (endpoint, name.rsplit("-", 1)[-1])
        if kind == "hidden" and "-" in name:
            if shared in sweep.shared_swept:
                continue
            sweep.shared_swept.add(shared)
        values, first = _values_for(sweep, name, kind, first), False
        for label, value in values.items():
            if form is None:
                return sent
            what = f"{form.action} {name}={label}"
            response = sweep.call(user, "POST", form.action, _replace(form.baseline(), name, value))
            sent += 1
            _check_refusal(sweep, response, what)
            if response.status_code < 400:
                if label == "nul" or label == "foreign" and name.endswith("_id"):
                    sweep.problems.append(f"accepted {what}")
                form = _fresh(sweep, user, page_url, signature)  # it moved on: read it again
        if form is None:
            return sent
    if form is None:
        return sent
    no_csrf = [(k, v) for k, v in form.baseline() if not k.endswith("csrf_token")]
    response = sweep.call(user, "POST", form.action, no_csrf, "without CSRF")
    if response.status_code != 400:
        sweep.problems.append(f"no CSRF gave {response.status_code}: {form.action}")
    _check_refusal(sweep, response, f"{form.action} without CSRF")
    twice = []
    for k, v in form.baseline():
        twice += [(k, v), (k, v if k.endswith(("csrf_token", "token")) else NUL)]
    response = sweep.call(user, "POST", form.action, twice, "every field twice")
    _check_refusal(sweep, response, f"{form.action} every field twice")
    return sent + 2


def test_every_post_form_refuses_hostile_values_in_words(app, sweep):
    swept, unswept = set(), []
    sweep.track_writes = True
    rules = sorted((r for r in _html_rules(app) if "POST" in r.methods), key=_order)
    for rule in rules:
        user = _user_for(app, rule.endpoint)
        found = list(_forms_posting_to(sweep, user, rule.endpoint))
        if not found:
            unswept.append(rule.rule)
            continue
        seen = set()
        for page_url, form in found:
            if _signature(form) in seen:
                continue
            seen.add(_signature(form))
            _sweep_form(sweep, user, rule.endpoint, page_url, form)
        swept.add(rule.endpoint)
    assert not sweep.problems, "\n".join(sweep.problems)
    assert not unswept, f"no page shows a form for {unswept}"
    assert swept == {rule.endpoint for rule in rules}


# Forms whose success hides other forms go late: moving A's referral on (the provider's and
# the one-link page's forms show it), ending A's partnership with pa (the provider then sees
# none of A), revoking A's app. The provider's moves go after the one-link page's (a
# decline there spends the link). Signing out ends the session, so it goes last.
LATE = {
    "provider.act": 1,
    "referrals.act": 2,
    "admin.set_partnership": 2,
    "oauth_clients.revoke": 2,
    "auth.logout": 3,
}


def _order(rule) -> int:
    return LATE.get(rule.endpoint, 0)


class _RecordingArgs(ImmutableMultiDict):
    """Query parameters that note each name a view asks for."""

    asked: set[str] = set()

    def __contains__(self, key):
        _RecordingArgs.asked.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        _RecordingArgs.asked.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):
        _RecordingArgs.asked.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        _RecordingArgs.asked.add(key)
        return super().getlist(key, type)


@pytest.fixture
def recording(app):
    """The app's requests record the query parameters their views read."""
    original = app.request_class

    class RecordingRequest(original):
        parameter_storage_class = _RecordingArgs

    app.request_class = RecordingRequest
    yield _RecordingArgs.asked
    app.request_class = original


QUERY_VALUES = {
    **TEXT_VALUES,
    **NUMBER_VALUES,
    "bad-month": "2026-13",
    "bad-date": "2024-02-30",
    "unknown": "not-a-choice",
    "not-uuid": "not-a-uuid",
}


def test_every_query_parameter_refuses_hostile_values_in_words(app, sweep, recording):
    """All of a page's parameters get a value at once; where the page refuses one, each
    parameter gets it alone too, so every parameter is parsed with every value."""
    pages = 0
    for rule in _html_rules(app):
        if "GET" not in rule.methods:
            continue
        user = _user_for(app, rule.endpoint)
        url = _url(sweep, rule)
        base = dict(_query_for(sweep, rule.endpoint))
        recording.clear()
        first = sweep.call(user, "GET", f"{url.split('?')[0]}?{urlencode(base)}")
        assert first.status_code in (200, 302), (url, first.status_code)
        html = first.text if first.mimetype == "text/html" else ""
        names = set(recording)
        names |= {n for f in forms_of(html, url) if f.method == "get" for n in f.kinds()}
        names -= set(base)
        pages += 1
        for label, value in QUERY_VALUES.items():
            values = [(n, value) for n in sorted(names)] + list(base.items())
            response = _get(sweep, user, url, values, f"{rule.rule} all={label}")
            if response.status_code >= 400 and len(names) > 1:
                for name in names:
                    _get(sweep, user, url, [(name, value), *base.items()], f"{name}={label}")
        for name in names:
            if name.endswith(("id", "school", "provider")):
                foreign = [(name, str(sweep.world.school_b.id)), *base.items()]
                _get(sweep, user, url, foreign, f"{rule.rule} {name}=B's id")
            twice = [(name, "1"), (name, "a\x00b"), *base.items()]
            _get(sweep, user, url, twice, f"{rule.rule} {name} twice")
    assert not sweep.problems, "\n".join(sweep.problems)
    assert pages > 30


def _get(sweep: Sweep, user: str, url: str, pairs, what: str):
    path = urlsplit(url).path
    response = sweep.call(user, "GET", f"{path}?{urlencode(pairs)}", what=what)
    if 400 <= response.status_code < 500 and response.mimetype == "text/html":
        if not MESSAGE.search(response.text):
            sweep.problems.append(f"{response.status_code} without a message: {what}")
    elif response.status_code >= 400 and response.status_code < 500:
        sweep.problems.append(f"{response.status_code} {response.mimetype}: {what}")
    return response


def test_foreign_ids_in_form_fields_change_nothing(app, sweep, owner_engine):
    """District B's caregiver on A's attempt form: refused like a missing one."""
    client = sweep.client("navigator@a.test")
    url = f"/referrals/{sweep.world.referral_a.id}"
    page = client.get(url).text
    form = next(f for f in forms_of(page, url) if ("attempt-action", "attempt") in _hidden(f))
    before = write_counts(owner_engine)
    pairs = _replace(form.baseline(), "attempt-caregiver_id", str(sweep.world.caregiver_b))
    response = sweep.call("navigator@a.test", "POST", url, pairs)
    assert response.status_code == 422
    assert MESSAGE.search(response.text)
    assert not changed(before, write_counts(owner_engine))
    assert str(uuid.UUID(str(sweep.world.caregiver_b))) not in response.text


def _hidden(form):
    return {(f["name"], f["value"]) for f in form.fields if f["kind"] == "hidden"}
