"""The admin pages for partner apps: register (secret shown once), rotate, revoke; each
organisation sees only its own apps; provider admins manage their provider's."""

from __future__ import annotations

import re

from sqlalchemy import text

from baton.platform.extensions import db
from tests.conftest import csrf_token
from tests.oauth_support import register_app

FORM = {
    "name": "Care coordination",
    "client_type": "secret",
    "grant_types": ["authorization_code", "refresh_token"],
    "scopes": ["openid", "referrals:read"],
    "redirect_uris": "https://care.example/callback\nhttp://127.0.0.1:8765/cb",
}


def _post(client, url, data=None):
    token = csrf_token(client.get("/admin/apps/new").text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def _secret(page: str) -> str:
    return re.search(r'<code id="secret">([^<]+)</code>', page).group(1)


def test_register_shows_the_secret_once_and_keeps_only_its_hash(app, world, login_as, owner_engine):
    admin = login_as("district_admin@a.test")
    created = _post(admin, "/admin/apps/new", FORM)
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    secret = _secret(created.text)
    with owner_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT client_id, client_secret_hash, tenant_id, redirect_uris FROM oauth_clients"
            )
        ).one()
    assert secret not in row.client_secret_hash and row.tenant_id == world.tenant_a.id
    assert row.redirect_uris == ["https://care.example/callback", "http://127.0.0.1:8765/cb"]
    page = admin.get(f"/admin/apps/{row.client_id}").text
    assert secret not in page and "See referrals and their status history" in page
    assert "Care coordination" in admin.get("/admin/apps").text


def test_rotating_the_secret_replaces_it(app, world, login_as):
    from baton.platform.oauth.models import OAuthClient
    from baton.platform.oauth.server import RegisteredClient

    registered = register_app(app, tenant_id=world.tenant_a.id)
    admin = login_as("district_admin@a.test")
    rotated = _post(admin, f"/admin/apps/{registered.client_id}/rotate-secret")
    assert rotated.status_code == 200
    new = _secret(rotated.text)
    with app.app_context():
        row = db.session.scalars(
            db.select(OAuthClient).where(OAuthClient.client_id == registered.client_id)
        ).one()
        assert RegisteredClient(row).check_client_secret(new)
        assert not RegisteredClient(row).check_client_secret(registered.secret)


def test_revoke_from_the_page(app, world, login_as):
    registered = register_app(app, tenant_id=world.tenant_a.id)
    admin = login_as("district_admin@a.test")
    revoked = _post(admin, f"/admin/apps/{registered.client_id}/revoke")
    assert revoked.status_code == 302
    assert "revoked" in admin.get(f"/admin/apps/{registered.client_id}").text


def test_bad_registrations_re_render_with_field_messages(app, world, login_as, owner_engine):
    admin = login_as("district_admin@a.test")
    cases = {
        "http redirect": ({"redirect_uris": "http://care.example/cb"}, "use https://"),
        "no scope": ({"scopes": []}, "choose at least one scope"),
        "county scope": ({"scopes": ["county-metrics:read"]}, "not a valid choice"),
        "public client credentials": (
            {"client_type": "public", "grant_types": ["client_credentials"]},
            "a public app cannot use client credentials",
        ),
        "signed, no keys": ({"client_type": "jwks"}, "give exactly one of"),
        "bad jwks": ({"client_type": "jwks", "jwks": "{not json"}, "JWKS"),
    }
    for label, (change, message) in cases.items():
        response = _post(admin, "/admin/apps/new", {**FORM, **change})
        assert response.status_code == 422, label
        assert message in response.text, (label, response.text[-1500:])
    assert _post(admin, "/admin/apps/new", FORM).status_code == 201
    again = _post(admin, "/admin/apps/new", FORM)
    assert again.status_code == 422 and "already registered" in again.text
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM oauth_clients")).scalar() == 1


def test_another_districts_app_is_404_for_every_action(app, world, login_as):
    theirs = register_app(app, tenant_id=world.tenant_b.id, name="B's app")
    admin = login_as("district_admin@a.test")
    assert admin.get(f"/admin/apps/{theirs.client_id}").status_code == 404
    assert _post(admin, f"/admin/apps/{theirs.client_id}/revoke").status_code == 404
    assert _post(admin, f"/admin/apps/{theirs.client_id}/rotate-secret").status_code == 404
    assert "B&#39;s app" not in admin.get("/admin/apps").text
    b_admin = login_as("district_admin@b.test")
    assert "revoked" not in b_admin.get(f"/admin/apps/{theirs.client_id}").text


def test_staff_without_the_admin_role_cannot_manage_apps(app, world, login_as):
    for email in ("navigator@a.test", "intake@pa.test", "commissioner@test.test"):
        assert login_as(email).get("/admin/apps").status_code == 403, email


def test_provider_admin_registers_the_providers_own_apps(app, world, login_as):
    register_app(app, tenant_id=world.tenant_a.id, name="District app")
    admin = login_as("provider_admin@pa.test")
    assert "Partner apps" in admin.get("/provider").text  # the one navigation link
    form = {**FORM, "scopes": ["openid", "referrals:write", "directory:read"]}
    assert _post(admin, "/admin/apps/new", form).status_code == 201
    listing = admin.get("/admin/apps").text
    assert "Care coordination" in listing and "District app" not in listing
    students_scope = _post(admin, "/admin/apps/new", {**form, "scopes": ["students:read"]})
    assert students_scope.status_code == 422  # a provider's app gets no student scope


def test_a_fhir_client_registered_on_the_page_gets_a_smart_token(app, world, login_as, live_server):
    """What `baton create-client --tenant` registers, from the form: private_key_jwt with an
    inline JWKS (or a JWKS URL), client credentials, SMART scopes; Authlib then gets a
    SMART Backend Services token with it and reads the district's Tasks on /fhir."""
    import json
    from types import SimpleNamespace

    from tests.fhir_gateway.conftest import Fhir
    from tests.oauth_support import fetch_token, public_jwks, rsa_key

    admin = login_as("district_admin@a.test")
    assert 'href="/admin/apps">API and FHIR clients</a>' in admin.get("/admin").text
    assert (
        "Read, update, search FHIR Task (system level) (system/Task.rus)"
        in admin.get("/admin/apps/new").text
    )
    key = rsa_key("sis-1")
    smart = {
        "name": "District SIS",
        "client_type": "jwks",
        "grant_types": ["client_credentials"],
        "scopes": ["system/Task.rus", "system/Patient.rs"],
        "jwks": json.dumps(public_jwks(key)),
    }
    created = _post(admin, "/admin/apps/new", smart)
    assert created.status_code == 201, created.text
    client_id = re.search(r"<code>([0-9a-f]{32})</code>", created.text)[1]
    shown = admin.get(f"/admin/apps/{client_id}").text
    assert "private_key_jwt: keys <code>sis-1</code> (RSA)" in shown
    token = fetch_token(
        live_server, SimpleNamespace(client_id=client_id, key=key), scope="system/Task.rs"
    )
    assert token["expires_in"] == 300 and "refresh_token" not in token
    fhir = Fhir(live_server, token["access_token"])
    tasks = fhir.get(f"/Task?requester=Organization/{world.tenant_a.id}").json()
    assert [e["resource"]["id"] for e in tasks["entry"]] == [str(world.referral_a.id)]
    fhir.close()
    by_url = {**smart, "name": "District EHR", "jwks": "", "jwks_uri": "https://sis.example/jwks"}
    assert _post(admin, "/admin/apps/new", by_url).status_code == 201
    plain = _post(
        admin, "/admin/apps/new", {**by_url, "name": "x", "jwks_uri": "http://sis.example/j"}
    )
    assert plain.status_code == 422 and "must be an https:// URL" in plain.text
