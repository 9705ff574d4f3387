"""The token service end to end: Authlib's own client (OAuth2Session + PrivateKeyJWT) against
the app on a loopback port; tokens used on the JSON API.

§13 scenario 22 (bad assertions are ``invalid_client``), 20 (no, expired or orphaned token:
401) and 21 (a read-only token reads but cannot write) — the FHIR endpoint repeats 20 and 21
in tests/fhir_gateway.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import secrets
import threading
import time

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from sqlalchemy import text

from tests.oauth_support import (
    ec_key,
    fetch_token,
    public_jwks,
    register_client,
    rsa_key,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="module")
def keys():
    return {"rsa": rsa_key("rsa-1"), "ec": ec_key("ec-1"), "other": rsa_key("rsa-other")}


@pytest.fixture
def ehr(live_server, world, keys):
    """Provider pa's EHR, registered with an RSA key."""
    return register_client(live_server.app, provider_id=world.pa.id, key=keys["rsa"])


def _assertion(server, client, *, alg="RS384", lifetime=300, jti=None, **overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": server.token_url,
        "exp": now + lifetime,
        "iat": now,
        "jti": jti or secrets.token_urlsafe(16),
        **overrides,
    }
    header = {"alg": alg, "kid": client.key.kid, **overrides.pop("header", {})}
    return jwt.encode(header, claims, client.key, algorithms=[alg])


def _post_assertion(server, assertion: str, scope: str = "system/Task.rs"):
    return requests.post(
        server.token_url,
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        timeout=10,
    )


def _api(server, token: str | None, path="/api/v1/referrals", method="GET", headers=None, **kw):
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    return requests.request(method, server.url + path, headers=headers, timeout=10, **kw)


def test_rs384_assertion_gets_a_300_second_token_without_refresh(live_server, ehr):
    token = fetch_token(live_server, ehr, scope="system/Task.rs system/Patient.rs")
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] == 300
    assert token["scope"] == "system/Task.rs system/Patient.rs"
    assert "refresh_token" not in token


def test_es384_assertion_is_accepted(live_server, world, keys):
    client = register_client(live_server.app, provider_id=world.pa.id, key=keys["ec"], name="EC")
    assert fetch_token(live_server, client, scope="system/Task.rs")["expires_in"] == 300


def test_only_the_tokens_hash_is_stored(live_server, ehr, owner_engine):
    token = fetch_token(live_server, ehr)["access_token"]
    with owner_engine.connect() as conn:
        rows = conn.execute(text("SELECT token_hash, scopes FROM oauth_tokens")).all()
        dump = json.dumps([list(map(str, r)) for r in rows])
    assert token not in dump
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_assertion_expiring_an_hour_ahead_is_invalid_client(live_server, ehr):
    response = _post_assertion(live_server, _assertion(live_server, ehr, lifetime=3600))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client")
    with pytest.raises(OAuthError) as refused:
        fetch_token(live_server, ehr, lifetime=3600)
    assert refused.value.error == "invalid_client"


def test_reused_jti_is_invalid_client(live_server, ehr):
    assertion = _assertion(live_server, ehr)
    assert _post_assertion(live_server, assertion).status_code == 200
    again = _post_assertion(live_server, assertion)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_client")
    fresh_signature_same_jti = _assertion(live_server, ehr, jti=_jti(assertion))
    assert _post_assertion(live_server, fresh_signature_same_jti).json()["error"] == (
        "invalid_client"
    )


def _jti(assertion: str) -> str:
    import base64

    payload = assertion.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def test_jti_is_used_even_when_the_request_then_fails(live_server, ehr):
    assertion = _assertion(live_server, ehr)
    refused = _post_assertion(live_server, assertion, scope="system/Observation.c")
    assert refused.json()["error"] == "invalid_scope"
    assert _post_assertion(live_server, assertion).json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "change",
    [
        {"alg": "RS256"},
        {"alg": "RS512"},
        {"header": {"kid": "not-registered"}},
        {"aud": "https://elsewhere.example/oauth/token"},
        {"iss": "someone-else"},
        {"sub": "someone-else"},
        {"exp": 0},
    ],
    ids=["rs256", "rs512", "unknown-kid", "wrong-aud", "iss-not-sub", "sub-unknown", "expired"],
)
def test_bad_assertions_are_invalid_client(live_server, ehr, change):
    alg = change.pop("alg", "RS384")
    assertion = _assertion(live_server, ehr, alg=alg, **change)
    response = _post_assertion(live_server, assertion)
    assert (response.status_code, response.json()["error"]) in (
        (400, "invalid_client"),
        (401, "invalid_client"),
    )


def test_assertion_without_kid_is_invalid_client(live_server, ehr):
    now = int(time.time())
    claims = {
        "iss": ehr.client_id,
        "sub": ehr.client_id,
        "aud": live_server.token_url,
        "exp": now + 200,
        "jti": "no-kid",
    }
    assertion = jwt.encode({"alg": "RS384"}, claims, ehr.key, algorithms=["RS384"])
    assert _post_assertion(live_server, assertion).json()["error"] == "invalid_client"


def test_assertion_signed_by_another_key_is_invalid_client(live_server, ehr, keys):
    assertion = jwt.encode(
        {"alg": "RS384", "kid": ehr.key.kid},
        {
            "iss": ehr.client_id,
            "sub": ehr.client_id,
            "aud": live_server.token_url,
            "exp": int(time.time()) + 200,
            "jti": secrets.token_urlsafe(8),
        },
        keys["other"],
        algorithms=["RS384"],
    )
    assert _post_assertion(live_server, assertion).json()["error"] == "invalid_client"


def test_scopes_beyond_the_registration_are_refused_or_narrowed(live_server, world):
    client = register_client(
        live_server.app, provider_id=world.pa.id, scopes="system/Task.rus", name="narrow"
    )
    assert fetch_token(live_server, client, scope="system/Task.cruds")["scope"] == (
        "system/Task.rus"
    )
    assert fetch_token(live_server, client, scope="system/Task.read")["scope"] == (
        "system/Task.read"
    )
    with pytest.raises(OAuthError) as refused:
        fetch_token(live_server, client, scope="system/Patient.rs")
    assert refused.value.error == "invalid_scope"


def test_revoked_client_gets_no_token_and_its_tokens_stop(live_server, ehr):
    from baton.platform.extensions import db
    from baton.platform.oauth.clients import revoke_client
    from baton.tenants.context import system_scope

    token = fetch_token(live_server, ehr)["access_token"]
    assert _api(live_server, token).status_code == 200
    with live_server.app.app_context(), system_scope("test: revoke"):
        revoke_client(ehr.client_id)
        db.session.commit()
    assert _api(live_server, token).status_code == 401
    with pytest.raises(OAuthError) as refused:
        fetch_token(live_server, ehr)
    assert refused.value.error == "invalid_client"


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    jwks: dict = {}

    def do_GET(self):  # noqa: N802 - the stdlib's name
        body = json.dumps(type(self).jwks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def jwks_host():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_client_with_a_jwks_url_rotates_keys(live_server, world, jwks_host, keys):
    from types import SimpleNamespace

    from baton.platform.extensions import db
    from baton.platform.models import ProviderOrg
    from baton.platform.oauth import clients
    from baton.tenants.context import system_scope

    _JwksHandler.jwks = public_jwks(keys["rsa"])
    url = f"http://127.0.0.1:{jwks_host.server_port}/jwks.json"
    with live_server.app.app_context(), system_scope("test: register by url"):
        row, _ = clients.create_client(
            "By URL",
            provider=db.session.get(ProviderOrg, world.pa.id),
            scopes="system/Task.rs",
            jwks_uri=url,
            allow_http_jwks=True,
        )
        client_id = row.client_id
        db.session.commit()
    assert fetch_token(live_server, SimpleNamespace(client_id=client_id, key=keys["rsa"]))
    _JwksHandler.jwks = public_jwks(keys["rsa"], keys["other"])  # the EHR adds a new key
    rotated = SimpleNamespace(client_id=client_id, key=keys["other"])
    assert fetch_token(live_server, rotated)["expires_in"] == 300


# ---------------------------------------------------------------- tokens on the JSON API


def test_no_unknown_or_expired_token_is_401(live_server, ehr, owner_engine):
    assert _api(live_server, None).status_code == 401
    assert _api(live_server, "not-a-token").status_code == 401
    token = fetch_token(live_server, ehr)["access_token"]
    assert _api(live_server, token).status_code == 200
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE oauth_tokens SET expires_at = now() - interval '1 second'"))
    response = _api(live_server, token)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_token_of_a_deactivated_district_or_provider_is_401(live_server, world, owner_engine):
    district = register_client(live_server.app, tenant_id=world.tenant_a.id, name="SIS")
    provider = register_client(live_server.app, provider_id=world.pb.id, name="EHR-B")
    district_token = fetch_token(live_server, district)["access_token"]
    provider_token = fetch_token(live_server, provider)["access_token"]
    assert _api(live_server, district_token).status_code == 200
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE tenants SET active = false WHERE id = :id"), {"id": world.tenant_a.id}
        )
        conn.execute(
            text("UPDATE provider_orgs SET active = false WHERE id = :id"), {"id": world.pb.id}
        )
    assert _api(live_server, district_token).status_code == 401
    assert _api(live_server, provider_token).status_code == 401


def test_read_only_token_reads_but_cannot_change(live_server, ehr, world):
    token = fetch_token(live_server, ehr, scope="system/Task.rs")["access_token"]
    path = f"/api/v1/referrals/{world.referral_a.id}"
    read = _api(live_server, token, path)
    assert read.status_code == 200
    write = _api(
        live_server,
        token,
        path + "/status",
        method="POST",
        json={"status": "received"},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert write.status_code == 403
    assert write.json()["type"].endswith("/insufficient-scope")


def test_token_acts_for_its_principal_only(live_server, ehr, world):
    token = fetch_token(live_server, ehr, scope="system/Task.rus")["access_token"]
    listed = _api(live_server, token).json()["items"]
    assert [r["id"] for r in listed] == [str(world.referral_a.id)]
    foreign = _api(live_server, token, f"/api/v1/referrals/{world.referral_b.id}")
    assert foreign.status_code == 404
    path = f"/api/v1/referrals/{world.referral_a.id}"
    etag = _api(live_server, token, path).headers["ETag"]
    moved = requests.post(
        live_server.url + path + "/status",
        json={"status": "received"},
        headers={"If-Match": etag, "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "received"
