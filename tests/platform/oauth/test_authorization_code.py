"""Partner apps end to end: Authlib's OAuth2Session drives the authorization code + PKCE dance
against the app on a loopback port (a person's browser signs in and answers the consent page
through the real HTML forms), then calls the JSON API with the token. Every refusal the issue
names: wrong redirect URI, missing or wrong PKCE verifier, reused code, reused refresh token
(family revoked), expired token, revoked client, scope escalation, another district's ids,
a commissioner's token on student routes.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import text

from tests.oauth_support import (
    REDIRECT_URI,
    Browser,
    authorization_code_flow,
    code_session,
    register_app,
)

SCOPE = "openid profile email referrals:read referrals:write students:read"


@pytest.fixture
def sis(live_server, world):
    """District A's care-coordination app: confidential (secret), code + refresh."""
    return register_app(live_server.app, tenant_id=world.tenant_a.id, name="Care app")


def _api(server, token, path, method="GET", **kw):
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
    return requests.request(method, server.url + path, headers=headers, timeout=10, **kw)


def _query(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def _authorize_url(server, app_client, scope=SCOPE, **params):
    session = code_session(server, app_client, scope=scope)
    verifier = generate_token(48)
    url, state = session.create_authorization_url(
        server.url + "/oauth/authorize", code_verifier=verifier, **params
    )
    return session, verifier, url


def test_code_flow_with_pkce_signs_in_and_calls_the_api(live_server, world, sis):
    session, token, location = authorization_code_flow(
        live_server, sis, "navigator@a.test", scope=SCOPE
    )
    assert set(token) >= {"access_token", "refresh_token", "id_token", "expires_in"}
    assert token["scope"] == SCOPE
    assert _query(location)["state"]
    listed = session.get(live_server.url + "/api/v1/referrals", timeout=10)
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["items"]] == [str(world.referral_a.id)]
    path = f"{live_server.url}/api/v1/referrals/{world.referral_a.id}"
    etag = session.get(path, timeout=10).headers["ETag"]
    moved = session.post(
        path + "/status",
        json={"status": "withdrawn", "reason": "family moved"},
        headers={"If-Match": etag},
        timeout=10,
    )
    assert moved.status_code == 200, moved.text
    assert session.get(live_server.url + "/api/v1/students", timeout=10).status_code == 200


def test_id_token_and_userinfo_identify_the_staff_member(live_server, world, sis):
    session, token, _ = authorization_code_flow(live_server, sis, "navigator@a.test", scope=SCOPE)
    config = requests.get(live_server.url + "/.well-known/openid-configuration", timeout=10)
    keys = KeySet.import_key_set(requests.get(config.json()["jwks_uri"], timeout=10).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    claims = id_token.claims
    assert id_token.header["alg"] == "RS256" and id_token.header["kid"]
    assert claims["iss"] == live_server.url and claims["aud"] == [sis.client_id]
    assert claims["email"] == "navigator@a.test" and claims["baton_role"] == "navigator"
    assert claims["baton_org"] == f"district:{world.tenant_a.id}"
    info = session.get(config.json()["userinfo_endpoint"], timeout=10).json()
    assert (info["sub"], info["email"], info["name"]) == (
        claims["sub"],
        "navigator@a.test",
        "navigator a",
    )


def test_wrong_redirect_uri_is_shown_never_redirected(live_server, world, sis):
    session = code_session(live_server, sis, scope=SCOPE, redirect_uri="https://evil.example/cb")
    url, _ = session.create_authorization_url(
        live_server.url + "/oauth/authorize", code_verifier=generate_token(48)
    )
    page = Browser(live_server, "navigator@a.test").authorize(url)
    assert page.status_code == 400
    assert "Location" not in page.headers and "evil.example/cb" in page.text


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"code_challenge_method": "plain", "code_challenge": "x" * 43}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"scope": "openid county-metrics:read"}, "invalid_scope"),
        ({"scope": "openid directory:read"}, "invalid_scope"),  # not registered: escalation
    ],
    ids=["plain-pkce", "no-pkce", "scope-for-counties", "scope-not-registered"],
)
def test_bad_authorization_requests_go_back_with_an_error(
    live_server, world, sis, params, expected
):
    query = {
        "response_type": "code",
        "client_id": sis.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "s1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    query.update(params)
    query = {k: v for k, v in query.items() if v is not None}
    url = requests.Request("GET", live_server.url + "/oauth/authorize", params=query).prepare()
    back = Browser(live_server, "navigator@a.test").authorize(url.url)
    assert back.status_code == 302
    assert back.headers["Location"].startswith(REDIRECT_URI)
    answer = _query(back.headers["Location"])
    assert (answer["error"], answer["state"]) == (expected, "s1")


def _code(live_server, app_client, email="navigator@a.test", scope=SCOPE):
    session, verifier, url = _authorize_url(live_server, app_client, scope=scope)
    back = Browser(live_server, email).authorize(url)
    return session, verifier, back.headers["Location"]


def test_missing_or_wrong_pkce_verifier_is_refused(live_server, world, sis):
    session, verifier, location = _code(live_server, sis)
    with pytest.raises(OAuthError) as missing:
        session.fetch_token(live_server.token_url, authorization_response=location)
    assert missing.value.error == "invalid_request"
    session, verifier, location = _code(live_server, sis)
    with pytest.raises(OAuthError) as wrong:
        session.fetch_token(
            live_server.token_url, authorization_response=location, code_verifier=verifier[:-1]
        )
    assert wrong.value.error == "invalid_grant"


def test_reused_code_is_refused_and_revokes_its_tokens(live_server, world, sis):
    session, verifier, location = _code(live_server, sis)
    token = session.fetch_token(
        live_server.token_url, authorization_response=location, code_verifier=verifier
    )
    assert _api(live_server, token["access_token"], "/api/v1/referrals").status_code == 200
    with pytest.raises(OAuthError) as reused:
        session.fetch_token(
            live_server.token_url, authorization_response=location, code_verifier=verifier
        )
    assert reused.value.error == "invalid_grant"
    assert _api(live_server, token["access_token"], "/api/v1/referrals").status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_family(live_server, world, sis):
    session, first, _ = authorization_code_flow(live_server, sis, "navigator@a.test", scope=SCOPE)
    second = session.refresh_token(live_server.token_url, refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert _api(live_server, first["access_token"], "/api/v1/referrals").status_code == 401
    assert _api(live_server, second["access_token"], "/api/v1/referrals").status_code == 200
    with pytest.raises(OAuthError) as reused:
        session.refresh_token(live_server.token_url, refresh_token=first["refresh_token"])
    assert reused.value.error == "invalid_grant"
    assert _api(live_server, second["access_token"], "/api/v1/referrals").status_code == 401
    with pytest.raises(OAuthError):
        session.refresh_token(live_server.token_url, refresh_token=second["refresh_token"])


def test_refresh_cannot_widen_the_scope(live_server, world, sis):
    session, token, _ = authorization_code_flow(
        live_server, sis, "navigator@a.test", scope="openid referrals:read"
    )
    with pytest.raises(OAuthError) as wider:
        session.refresh_token(
            live_server.token_url,
            refresh_token=token["refresh_token"],
            scope="openid referrals:read referrals:write",
        )
    assert wider.value.error == "invalid_scope"
    narrower = session.refresh_token(
        live_server.token_url, refresh_token=token["refresh_token"], scope="referrals:read"
    )
    assert narrower["scope"] == "referrals:read"


def test_expired_token_is_401(live_server, world, sis, owner_engine):
    _, token, _ = authorization_code_flow(live_server, sis, "navigator@a.test", scope=SCOPE)
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE oauth_tokens SET expires_at = now() - interval '1 second'"))
    assert _api(live_server, token["access_token"], "/api/v1/referrals").status_code == 401


def test_revoked_client_stops_everywhere(live_server, world, sis):
    from baton.platform.extensions import db
    from baton.platform.oauth.clients import revoke_client
    from baton.tenants.context import system_scope

    session, token, _ = authorization_code_flow(live_server, sis, "navigator@a.test", scope=SCOPE)
    with live_server.app.app_context(), system_scope("test: revoke"):
        revoke_client(sis.client_id)
        db.session.commit()
    assert _api(live_server, token["access_token"], "/api/v1/referrals").status_code == 401
    with pytest.raises(OAuthError) as refused:
        session.refresh_token(live_server.token_url, refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_client"
    _, _, url = _authorize_url(live_server, sis)
    page = Browser(live_server, "navigator@a.test").authorize(url)
    assert page.status_code in (400, 401) and "Location" not in page.headers


def test_the_grant_never_exceeds_the_users_role(live_server, world, sis):
    """A referrer may not read referrals: the consent page withholds it, the token lacks it."""
    browser = Browser(live_server, "referrer@a.test")
    session, verifier, url = _authorize_url(live_server, sis, scope="openid referrals:read")
    back = browser.authorize(url)
    assert "Not granted: your role does not allow it" in browser.consent_page
    token = session.fetch_token(
        live_server.token_url,
        authorization_response=back.headers["Location"],
        code_verifier=verifier,
    )
    assert token["scope"] == "openid"
    refused = _api(live_server, token["access_token"], "/api/v1/referrals")
    assert refused.status_code == 403


def test_a_token_of_district_a_finds_nothing_of_district_b(live_server, world, sis):
    _, token, _ = authorization_code_flow(live_server, sis, "navigator@a.test", scope=SCOPE)
    access = token["access_token"]
    for path in (
        f"/api/v1/referrals/{world.referral_b.id}",
        f"/api/v1/students/{world.students_b[0].id}",
        f"/api/v1/referrals?school_id={world.school_b.id}",
    ):
        response = _api(live_server, access, path)
        assert response.status_code in (404, 200), path
        if response.status_code == 200:
            assert response.json()["items"] == []
    assert _api(live_server, access, f"/api/v1/referrals/{world.referral_b.id}").status_code == (
        404
    )
    assert (
        _api(live_server, access, f"/api/v1/students/{world.students_b[0].id}").status_code == 404
    )


def test_district_b_staff_cannot_authorize_district_as_app(live_server, world, sis):
    _, _, url = _authorize_url(live_server, sis)
    page = Browser(live_server, "navigator@b.test").authorize(url)
    assert page.status_code == 403
    assert "where your account has no role" in page.text


def test_commissioner_token_reaches_no_student_route(live_server, world):
    county_app = register_app(
        live_server.app,
        county_id=world.county.id,
        scopes="openid county-metrics:read",
        name="County pipeline",
    )
    _, token, _ = authorization_code_flow(
        live_server, county_app, "commissioner@test.test", scope="openid county-metrics:read"
    )
    for path in (
        "/api/v1/students",
        f"/api/v1/students/{world.students_a[0].id}",
        "/api/v1/referrals",
    ):
        response = _api(live_server, token["access_token"], path)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert "OnlyA" not in response.text


def test_public_client_uses_pkce_alone(live_server, world):
    native = register_app(
        live_server.app, tenant_id=world.tenant_a.id, client_type="public", name="Native"
    )
    assert native.secret is None
    session, token, _ = authorization_code_flow(
        live_server, native, "navigator@a.test", scope="referrals:read"
    )
    assert session.get(live_server.url + "/api/v1/referrals", timeout=10).status_code == 200
    assert token["scope"] == "referrals:read"


def test_denying_consent_sends_access_denied(live_server, world, sis):
    _, _, url = _authorize_url(live_server, sis)
    back = Browser(live_server, "navigator@a.test").authorize(url, decision="deny")
    assert _query(back.headers["Location"])["error"] == "access_denied"


def test_consent_page_names_app_scopes_and_district(live_server, world, sis):
    browser = Browser(live_server, "navigator@a.test")
    _, _, url = _authorize_url(live_server, sis)
    browser.authorize(url, decision="deny")
    page = browser.consent_page
    expected = (
        "Care app",
        "District A",
        "See referrals and their status history",
        "Update a referral",
        "Know your e-mail address",
        'name="csrf_token"',
    )
    for words in expected:
        assert words in page
