"""Bad input to the token service: every refusal at /oauth/token, /oauth/revoke,
/oauth/introspect and /oauth/userinfo is RFC 6749 error JSON (a registered error code) with a
4xx, never a 5xx; /oauth/authorize explains on a page or sends the error back to the app;
discovery documents ignore what they are sent. Through the test client, on the real database.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from tests.oauth_support import REDIRECT_URI, register_app, register_client, rsa_key
from tests.platform.hostile import LONG, NUL, UNICODE, changed, form_body, write_counts

# RFC 6749 §5.2 and §4.1.2.1, RFC 7009 §2.2.1, RFC 6750 §3.1 (userinfo), OIDC Core §3.1.2.6.
OAUTH_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "unsupported_response_type",
    "unsupported_token_type",
    "invalid_token",
    "insufficient_scope",
    "login_required",
    "consent_required",
}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Caller:
    def __init__(self, app, engine):
        self.client = app.test_client()
        self.engine = engine
        self.counts = write_counts(engine)  # as after the last request
        self.problems: list[str] = []

    def settled(self) -> None:
        """The test's own setup (registrations) is not the requests' doing."""
        self.counts = write_counts(self.engine)

    def refused(self, method, path, pairs=None, *, headers=None, data=None, what=""):
        """Note a problem unless the answer is a 4xx RFC 6749 error JSON that wrote nothing
        (a used assertion id is kept even when the request fails, on purpose: not counted)."""
        before = self.counts
        body = data if data is not None else (form_body(pairs) if pairs is not None else None)
        kind = "application/x-www-form-urlencoded" if pairs is not None else None
        label = f"{method} {path} {what[:100]}"
        try:
            response = self.client.open(
                path, method=method, data=body, content_type=kind, headers=headers or {}
            )
        except Exception as exc:  # the test app propagates what would be a 500
            self.problems.append(f"500 {label}: {type(exc).__name__} {exc!s:.200}")
            return None
        payload = response.get_json(silent=True) if response.is_json else None
        if not 400 <= response.status_code < 500:
            self.problems.append(f"{response.status_code} {label}")
        elif not isinstance(payload, dict) or payload.get("error") not in OAUTH_ERRORS:
            self.problems.append(
                f"{response.status_code} {response.mimetype} {response.text[:120]!r} {label}"
            )
        self.counts = write_counts(self.engine)  # the next request's "before"
        diff = changed(before, self.counts)
        diff.pop("used_assertions", None)
        if diff:
            self.problems.append(f"{label} wrote {diff}")
        return response


@pytest.fixture
def caller(app, owner_engine, redis_client):  # a flushed Redis: no rate limit carried over
    return Caller(app, owner_engine)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unsigned(header: dict, claims: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def sign(header: dict, claims: dict, key) -> str:
    return jwt.encode(header, claims, key, algorithms=[header["alg"]])


def _claims(client_id: str, **overrides) -> dict:
    now = int(time.time())
    return {
        "iss": client_id,
        "sub": client_id,
        "aud": "http://localhost/oauth/token",
        "exp": now + 240,
        "jti": uuid.uuid4().hex,
        **overrides,
    }


def _assertions(client) -> dict[str, str]:
    """Client assertions that must each be invalid_client (or invalid_request)."""
    cid, key = client.client_id, client.key
    rs384 = {"alg": "RS384", "kid": key.kid}

    def signed(header=None, **claims):
        return sign(header or rs384, _claims(cid, **claims), key)

    hs = OctKey.generate_key(256)
    return {
        "not a JWT": "not-a-jwt",
        "three dots": "a.b.c",
        "empty": "",
        "long": LONG,
        "unicode": UNICODE.decode("utf-8", "replace"),
        "header not JSON": f"{_b64(b'{oops')}.{_b64(b'{}')}.sig",
        "header a list": f"{_b64(b'[1]')}.{_b64(b'{}')}.sig",
        "alg none": _unsigned({"alg": "none", "kid": key.kid}, _claims(cid)),
        "alg HS256": sign({"alg": "HS256", "kid": key.kid}, _claims(cid), hs),
        "alg RS256": sign({"alg": "RS256", "kid": key.kid}, _claims(cid), key),
        "no kid": sign({"alg": "RS384"}, _claims(cid), key),
        "kid a number": _unsigned({"alg": "RS384", "kid": 7}, _claims(cid)),
        "unknown kid": sign({"alg": "RS384", "kid": "nope"}, _claims(cid), key),
        "claims a list": f"{_b64(json.dumps(rs384).encode())}.{_b64(b'[1,2]')}.sig",
        "bad signature": signed()[:-6] + "AAAAAA",
        "exp a string": signed(exp="tomorrow"),
        "exp huge": signed(exp=10**30),
        "exp negative": signed(exp=-(10**20)),
        "exp past": signed(exp=1),
        "exp NaN": signed(exp=float("nan")),
        "exp Infinity": signed(exp=float("-inf")),
        "jti a list": signed(jti=["a", "b"]),
        "jti long": signed(jti=LONG),
        "iss other": signed(iss="someone-else"),
        "aud other": signed(aud="https://elsewhere.example/token"),
    }


def test_token_endpoint_refuses_in_oauth_errors(app, world, caller):
    backend = register_client(app, provider_id=world.pa.id, key=rsa_key("k-1"))
    partner = register_app(app, tenant_id=world.tenant_a.id)
    cid = backend.client_id
    caller.settled()
    cc = [("grant_type", "client_credentials"), ("client_assertion_type", ASSERTION_TYPE)]
    for what, assertion in _assertions(backend).items():
        caller.refused("POST", "/oauth/token", [*cc, ("client_assertion", assertion)], what=what)
    for what, pairs in {
        "nothing": [],
        "no grant": [("client_id", cid)],
        "password grant": [("grant_type", "password"), ("username", "a"), ("password", "b")],
        "implicit": [("grant_type", "implicit")],
        "unknown grant": [("grant_type", LONG)],
        "grant NUL": [("grant_type", NUL)],
        "grant unicode": [("grant_type", UNICODE)],
        "grant twice": [("grant_type", "client_credentials"), ("grant_type", "refresh_token")],
        "no auth": [("grant_type", "client_credentials")],
        "unknown client": [("grant_type", "client_credentials"), ("client_id", str(uuid.uuid4()))],
        "long client id": [("grant_type", "client_credentials"), ("client_id", LONG)],
        "wrong assertion type": [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:nope"),
            ("client_assertion", "a.b.c"),
        ],
        "no assertion": cc,
        "long scope": [*cc, ("client_assertion", "x"), ("scope", LONG)],
        "secret: wrong": [
            ("grant_type", "client_credentials"),
            ("client_id", partner.client_id),
            ("client_secret", "wrong"),
        ],
        "secret: long": [
            ("grant_type", "client_credentials"),
            ("client_id", partner.client_id),
            ("client_secret", LONG),
        ],
        "code: garbage": [
            ("grant_type", "authorization_code"),
            ("client_id", partner.client_id),
            ("client_secret", partner.secret),
            ("code", LONG),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", "v" * 50),
        ],
        "code: missing": [
            ("grant_type", "authorization_code"),
            ("client_id", partner.client_id),
            ("client_secret", partner.secret),
        ],
        "refresh: garbage": [
            ("grant_type", "refresh_token"),
            ("client_id", partner.client_id),
            ("client_secret", partner.secret),
            ("refresh_token", UNICODE),
        ],
        "refresh: missing": [
            ("grant_type", "refresh_token"),
            ("client_id", partner.client_id),
            ("client_secret", partner.secret),
        ],
        "user app: client credentials": [
            ("grant_type", "client_credentials"),
            ("client_id", partner.client_id),
            ("client_secret", partner.secret),
        ],
    }.items():
        caller.refused("POST", "/oauth/token", pairs, what=what)
    for what, header in {
        "basic not base64": "Basic !!!",
        "basic no colon": "Basic " + base64.b64encode(b"just-a-name").decode(),
        "basic not UTF-8": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "basic long": "Basic " + base64.b64encode(LONG.encode() + b":x").decode(),
        "bearer instead": "Bearer abc",
    }.items():
        caller.refused(
            "POST",
            "/oauth/token",
            [("grant_type", "client_credentials")],
            headers={"Authorization": header},
            what=what,
        )
    caller.refused("POST", "/oauth/token", data=b'{"grant_type": "client_credentials"}',
                   headers={"Content-Type": "application/json"}, what="JSON body")  # fmt: skip
    caller.refused("POST", "/oauth/token", data=b"\xff\xfe=\x00", what="binary body",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    caller.refused("GET", "/oauth/token?grant_type=client_credentials", what="GET")
    assert not caller.problems, "\n".join(caller.problems)


def test_revoke_introspect_userinfo_refuse_in_oauth_errors(app, world, caller):
    partner = register_app(app, tenant_id=world.tenant_a.id)
    public = register_app(app, tenant_id=world.tenant_a.id, client_type="public", name="Public")
    auth = [("client_id", partner.client_id), ("client_secret", partner.secret)]
    caller.settled()
    for path in ("/oauth/revoke", "/oauth/introspect"):
        for what, pairs in {
            "nothing": [],
            "no client": [("token", "abc")],
            "wrong secret": [
                ("token", "abc"),
                ("client_id", partner.client_id),
                ("client_secret", "no"),
            ],  # fmt: skip
            "no token": auth,
            "bad hint": [*auth, ("token", "abc"), ("token_type_hint", "id_token")],
            "long hint": [*auth, ("token", "abc"), ("token_type_hint", LONG)],
            "NUL token": [*auth, ("token", NUL)],
            "unknown client": [("token", "abc"), ("client_id", LONG)],
        }.items():
            caller.refused("POST", path, pairs, what=what)
        caller.refused("GET", path, what="GET")
    caller.refused("POST", "/oauth/introspect", [("client_id", public.client_id), ("token", "x")],
                   what="public client")  # fmt: skip
    for header in ("Bearer", "Bearer " + LONG, "Bearer \x7f", "Basic abc", "bearer  x y"):
        caller.refused("GET", "/oauth/userinfo", headers={"Authorization": header}, what=header)
    caller.refused("GET", "/oauth/userinfo", what="no token")
    caller.refused("POST", "/oauth/userinfo", [("access_token", LONG)], what="form token")
    assert not caller.problems, "\n".join(caller.problems)


def test_authorize_explains_or_sends_the_error_back(app, world, login_as, owner_engine):
    """Bad authorization requests from a signed-in user: a page that says why (bad client
    or redirect URI: never redirected there), or a redirect to the app's registered URI with
    an RFC 6749 error; never a 5xx, and no code is issued."""
    partner = register_app(app, tenant_id=world.tenant_a.id)
    client = login_as("navigator@a.test")
    good = {
        "response_type": "code",
        "client_id": partner.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid referrals:read",
        "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    cases = {
        "nothing": {},
        "unknown client": {**good, "client_id": str(uuid.uuid4())},
        "long client": {**good, "client_id": LONG},
        "other redirect": {**good, "redirect_uri": "https://evil.example/cb"},
        "redirect not a URL": {**good, "redirect_uri": "javascript:alert(1)"},
        "token response": {**good, "response_type": "token"},
        "unknown response": {**good, "response_type": LONG},
        "no PKCE": {k: v for k, v in good.items() if not k.startswith("code_challenge")},
        "plain PKCE": {**good, "code_challenge_method": "plain"},
        "unknown scope": {**good, "scope": "openid everything:write"},
        "long scope": {**good, "scope": LONG},
        "prompt none": {**good, "prompt": "none"},
        "NUL": {**good, "state": NUL},
    }
    before = write_counts(owner_engine)
    problems = []
    for what, params in cases.items():
        for method in ("GET", "POST"):
            try:
                if method == "GET":
                    response = client.get("/oauth/authorize", query_string=params)
                else:
                    response = client.post("/oauth/authorize", data={**params, "decision": "x"})
            except Exception as exc:  # the test app propagates what would be a 500
                problems.append(f"500 {method} {what}: {exc!s:.200}")
                continue
            location = response.headers.get("Location", "")
            if response.status_code in (302, 303):
                sent_back = location.startswith(REDIRECT_URI) and "error=" in location
                if not sent_back:
                    problems.append(f"{method} {what} redirected to {location[:100]}")
            elif not 400 <= response.status_code < 500:
                problems.append(f"{method} {what}: {response.status_code}")
            elif 'role="alert"' not in response.text:
                problems.append(f"{method} {what}: {response.status_code} without a message")
    assert not problems, "\n".join(problems)
    assert not changed(before, write_counts(owner_engine))  # no code, no grant
    # ``state`` is the app's opaque value: any text is carried, none is a 5xx.
    for state in (UNICODE.decode("utf-8", "replace"), LONG):
        shown = client.get("/oauth/authorize", query_string={**good, "state": state})
        assert shown.status_code == 200 and "Allow" in shown.text


def test_discovery_and_jwks_ignore_what_they_are_sent(app, caller):
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server",
                 "/oauth/jwks", "/fhir/.well-known/smart-configuration"):  # fmt: skip
        response = caller.client.get(f"{path}?x={LONG}&y=%00", headers={"Accept": "text/html"})
        assert response.status_code in (200, 422), path
        assert response.is_json, path  # a refusal too: {"error": ...}
