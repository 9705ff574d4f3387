"""Property-based fuzzing of every /api/v1 operation from the app's own OpenAPI document.

Signed in as district A's navigator (session cookie + CSRF header), schemathesis sends
generated requests through WSGI to the real app on PostgreSQL: no response may be a 5xx, and
every response must match what the document says (status code, media type, body, headers).
Ids in paths and bodies are drawn from the generated value *or* a row that exists (district
A's, and district B's referral, which must stay invisible), so requests reach the views.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from baton.platform.app import create_app
from tests.conftest import base_config, csrf_token, login

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The document is generated from the code, so an app that never touches its database serves
# the same one. Operations are collected from it (one test each); every request then goes to
# the session's app on the throwaway PostgreSQL database. Generated bearer tokens would take
# precedence over the session, so none are generated.
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json",
    create_app(base_config(SQLALCHEMY_DATABASE_URI="sqlite://")),
    config=SchemathesisConfig.from_dict({"generation": {"with-security-parameters": False}}),
)

# Ids of rows that exist, by parameter/field name; refilled for each operation's world.
KNOWN: dict[str, list[str]] = {}
ETAGS = [f'W/"{version}"' for version in range(1, 5)]


def _known_ids(owner_engine, world, service_id) -> dict[str, list[str]]:
    a = str(world.tenant_a.id)

    def ids(table: str) -> list[str]:
        with owner_engine.connect() as conn:
            rows = conn.execute(text(f"SELECT id FROM {table} WHERE tenant_id = :t"), {"t": a})
            return [str(row.id) for row in rows]

    return {
        "student_id": [str(s.id) for s in world.students_a],
        "school_id": [str(world.school_a.id)],
        "provider_id": [str(world.pa.id)],
        "concern_id": ids("concerns"),
        "consent_id": ids("consents"),
        "caregiver_id": ids("caregivers"),
        "escalation_id": ids("escalations"),
        "crisis_record_id": ids("crisis_records"),
        "referral_id": [str(world.referral_a.id), str(world.referral_b.id)],
        "service_id": [str(service_id)],
    }


def _sometimes_known(values):
    """``values`` with each id-named entry replaced, or not, by an id that exists."""
    if not isinstance(values, dict):
        return st.just(values)
    choices = {
        name: st.sampled_from([value, *KNOWN[name]])
        for name, value in values.items()
        if KNOWN.get(name)
    }
    if not choices:
        return st.just(values)
    return st.fixed_dictionaries(choices).map(lambda drawn: {**values, **drawn})


@schema.hook
def flatmap_path_parameters(ctx, path_parameters):
    return _sometimes_known(path_parameters)


@schema.hook
def flatmap_query(ctx, query):
    return _sometimes_known(query)


@schema.hook
def flatmap_body(ctx, body):
    return _sometimes_known(body)


@schema.hook
def flatmap_headers(ctx, headers):
    if not isinstance(headers, dict) or "If-Match" not in headers:
        return st.just(headers)
    return st.sampled_from([headers["If-Match"], *ETAGS]).map(
        lambda etag: {**headers, "If-Match": etag}
    )


@pytest.fixture
def navigator(app, world, owner_engine):
    """District A's navigator, signed in: the session cookie and the X-CSRFToken header.
    Adds to the world a crisis record and a directory service, then notes the ids."""
    from baton.platform.extensions import db
    from baton.platform.models import ProviderOrg
    from baton.platform.services.provisioning import create_service
    from baton.tenants.context import acting_as, system_scope
    from tests.factories import make_concern, principal_of

    with app.app_context():
        with acting_as(principal_of("navigator@a.test")):
            make_concern(world.students_a[1].id, immediate_risk=True)  # tier C: a crisis record
        db.session.commit()
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
        service_id = service.id
        db.session.commit()
    KNOWN.clear()
    KNOWN.update(_known_ids(owner_engine, world, service_id))

    client = app.test_client()
    assert login(client, "navigator@a.test").status_code == 302
    token = csrf_token(client.get("/login").text)  # puts the CSRF secret in the session
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    # As cookies, not a Cookie header: werkzeug's client replaces that header with its jar.
    yield {"cookies": {cookie.key: cookie.value}, "headers": {"X-CSRFToken": token}}
    KNOWN.clear()


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_openapi_document(case, app, navigator):
    case.call_and_validate(app=app, checks=CHECKS, **navigator)
