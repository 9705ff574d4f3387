"""Client credentials with a secret, revocation (RFC 7009), introspection (RFC 7662) and
discovery, through Authlib's client against the app on a loopback port."""

from __future__ import annotations

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.discovery import OpenIDProviderMetadata

from baton.platform.extensions import db
from tests.conftest import base_config
from tests.oauth_support import authorization_code_flow, register_app


@pytest.fixture
def sync(live_server, world):
    """District A's student-information-system sync: a system client with a secret."""
    return register_app(
        live_server.app,
        tenant_id=world.tenant_a.id,
        grants=("client_credentials",),
        scopes="referrals:read students:read",
        name="SIS sync",
    )


def _system_token(server, client, scope=None, secret=None) -> dict:
    with OAuth2Session(client.client_id, secret or client.secret, scope=scope) as session:
        return session.fetch_token(server.token_url, grant_type="client_credentials")


def _api(server, token, path):
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(server.url + path, headers=headers, timeout=10)


def test_client_credentials_with_a_secret_act_as_the_district(live_server, world, sync):
    token = _system_token(live_server, sync, scope="referrals:read")
    assert token["expires_in"] == 300 and "refresh_token" not in token
    listed = _api(live_server, token["access_token"], "/api/v1/referrals")
    assert [r["id"] for r in listed.json()["items"]] == [str(world.referral_a.id)]
    students = _api(live_server, token["access_token"], "/api/v1/students")
    assert students.status_code == 403
    assert students.json()["type"].endswith("/insufficient-scope")
    foreign = _api(live_server, token["access_token"], f"/api/v1/referrals/{world.referral_b.id}")
    assert foreign.status_code == 404


def test_wrong_secret_or_unregistered_scope_is_refused(live_server, world, sync):
    with pytest.raises(OAuthError) as wrong:
        _system_token(live_server, sync, secret="not-the-secret")
    assert wrong.value.error == "invalid_client"
    with pytest.raises(OAuthError) as wider:
        _system_token(live_server, sync, scope="referrals:write")
    assert wider.value.error == "invalid_scope"


def test_a_user_app_cannot_use_client_credentials(live_server, world):
    user_app = register_app(live_server.app, tenant_id=world.tenant_a.id)
    with pytest.raises(OAuthError) as refused:
        _system_token(live_server, user_app)
    assert refused.value.error == "unauthorized_client"


def test_revoking_a_refresh_token_ends_the_authorization(live_server, world):
    app_client = register_app(live_server.app, tenant_id=world.tenant_a.id)
    session, token, _ = authorization_code_flow(
        live_server, app_client, "navigator@a.test", scope="referrals:read"
    )
    session.revoke_token(
        live_server.url + "/oauth/revoke", token["refresh_token"], token_type_hint="refresh_token"
    ).raise_for_status()
    assert _api(live_server, token["access_token"], "/api/v1/referrals").status_code == 401
    with pytest.raises(OAuthError) as refused:
        session.refresh_token(live_server.token_url, refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"


def test_a_client_cannot_revoke_or_introspect_another_clients_token(live_server, world, sync):
    other = register_app(
        live_server.app,
        tenant_id=world.tenant_a.id,
        grants=("client_credentials",),
        scopes="referrals:read",
        name="Other",
    )
    token = _system_token(live_server, sync)["access_token"]
    with OAuth2Session(other.client_id, other.secret) as session:
        assert session.revoke_token(live_server.url + "/oauth/revoke", token).status_code == 200
        seen = session.introspect_token(live_server.url + "/oauth/introspect", token).json()
    assert seen == {"active": False}
    assert _api(live_server, token, "/api/v1/referrals").status_code == 200  # not revoked


def test_introspection_describes_live_tokens_only(live_server, world, sync):
    token = _system_token(live_server, sync, scope="referrals:read")["access_token"]
    url = live_server.url + "/oauth/introspect"
    with OAuth2Session(sync.client_id, sync.secret) as session:
        active = session.introspect_token(url, token).json()
        assert active["active"] is True
        assert (active["scope"], active["client_id"]) == ("referrals:read", sync.client_id)
        assert active["baton_org"] == f"district:{world.tenant_a.id}"
        assert session.introspect_token(url, "no-such-token").json() == {"active": False}
        session.revoke_token(live_server.url + "/oauth/revoke", token).raise_for_status()
        assert session.introspect_token(url, token).json() == {"active": False}


def test_a_public_client_cannot_introspect(live_server, world):
    native = register_app(live_server.app, tenant_id=world.tenant_a.id, client_type="public")
    response = requests.post(
        live_server.url + "/oauth/introspect",
        data={"token": "x", "client_id": native.client_id},
        timeout=10,
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


def test_discovery_is_valid_openid_provider_metadata(database):
    from baton.platform.app import create_app

    https_app = create_app(
        base_config(SQLALCHEMY_DATABASE_URI=database.app_url, BASE_URL="https://baton.example")
    )
    client = https_app.test_client()
    try:
        _check_discovery(client)
    finally:
        with https_app.app_context():
            db.engine.dispose()


def _check_discovery(client):
    document = client.get("/.well-known/openid-configuration").json
    OpenIDProviderMetadata(document).validate()
    assert document == client.get("/.well-known/oauth-authorization-server").json
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["grant_types_supported"]) == {
        "authorization_code",
        "client_credentials",
        "refresh_token",
    }
    assert client.get("/oauth/jwks").json["keys"][0]["kty"] == "RSA"
    assert "d" not in client.get("/oauth/jwks").json["keys"][0]  # public half only
    page = client.get("/developers").text
    assert "https://baton.example/oauth/authorize" in page and "referrals:read" in page
