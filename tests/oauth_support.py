"""Real OAuth clients for the suite: keys, client registration, and tokens fetched with
Authlib's own ``OAuth2Session`` and ``PrivateKeyJWT`` from the app served on a loopback port."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey, RSAKey
from werkzeug.serving import make_server

from baton.platform.app import create_app
from baton.platform.extensions import db
from baton.platform.models import ProviderOrg, Tenant
from baton.platform.oauth import clients
from baton.tenants.context import system_scope
from tests.conftest import base_config

ALL_EHR_SCOPES = (
    "system/Task.rus system/ServiceRequest.rs system/Patient.rs system/Consent.rs "
    "system/Organization.rs system/Communication.crs system/Subscription.cruds"
)


def rsa_key(kid: str = "rsa-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def ec_key(kid: str = "ec-1") -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": kid})


def public_jwks(*keys) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


class LiveServer:
    """The app on 127.0.0.1 (an OS-chosen port) in a thread, its BASE_URL set to match."""

    def __init__(self, database):
        self.app = create_app(
            base_config(SQLALCHEMY_DATABASE_URI=database.app_url, FHIR_VALIDATE_BUNDLES=True)
        )
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.app.config["BASE_URL"] = self.url
        self.token_url = f"{self.url}/oauth/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        with self.app.app_context():
            db.engine.dispose()


def register_client(
    app, *, provider_id=None, tenant_id=None, scopes=ALL_EHR_SCOPES, key=None, name="EHR"
) -> SimpleNamespace:
    """Register a client with an inline JWKS (a fresh RSA key unless one is given)."""
    key = key or rsa_key()
    with app.app_context(), system_scope("test: register an oauth client"):
        client, _ = clients.create_client(
            name,
            tenant=db.session.get(Tenant, tenant_id) if tenant_id else None,
            provider=db.session.get(ProviderOrg, provider_id) if provider_id else None,
            scopes=scopes,
            jwks=public_jwks(key),
        )
        client_id = client.client_id
        db.session.commit()
    return SimpleNamespace(client_id=client_id, key=key)


class SmartPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's private_key_jwt client auth, with SMART's five-minute assertion lifetime
    (Authlib signs for an hour by default) and the key id in the header."""

    def __init__(self, token_endpoint, key, alg: str = "RS384", lifetime: int = 300):
        super().__init__(token_endpoint, headers={"kid": key.kid}, alg=alg)
        self.lifetime = lifetime

    def sign(self, auth, token_endpoint):
        self.claims = {"exp": int(time.time()) + self.lifetime}  # a fresh jti each time
        return super().sign(auth, token_endpoint)


def oauth_session(server: LiveServer, client, *, scope=None, alg=None, lifetime=300):
    alg = alg or ("ES384" if isinstance(client.key, ECKey) else "RS384")
    session = OAuth2Session(
        client.client_id,
        client.key,
        token_endpoint_auth_method="private_key_jwt",
        scope=scope,
    )
    session.register_client_auth_method(
        SmartPrivateKeyJWT(server.token_url, client.key, alg=alg, lifetime=lifetime)
    )
    return session


def fetch_token(server: LiveServer, client, *, scope=None, **kw) -> dict:
    """A token from the live server, through Authlib's client (raises OAuthError)."""
    with oauth_session(server, client, scope=scope, **kw) as session:
        return session.fetch_token(server.token_url, grant_type="client_credentials")


# ---------------------------------------------------------------- partner apps (issue 8)

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the test reads the redirect


def register_app(
    app,
    *,
    tenant_id=None,
    provider_id=None,
    county_id=None,
    scopes="openid profile email referrals:read referrals:write students:read",
    grants=("authorization_code", "refresh_token"),
    client_type="secret",
    redirect_uris=(REDIRECT_URI,),
    name="Partner app",
) -> SimpleNamespace:
    """Register a partner app through the service the admin page uses."""
    from baton.platform.models import County
    from baton.platform.oauth import apps

    spec = apps.AppSpec(
        name=name,
        grant_types=list(grants),
        scopes=scopes,
        client_type=client_type,
        redirect_uris=list(redirect_uris) if "authorization_code" in grants else [],
    )
    with app.app_context(), system_scope("test: register a partner app"):
        client, secret = apps.register_app(
            spec,
            tenant=db.session.get(Tenant, tenant_id) if tenant_id else None,
            provider=db.session.get(ProviderOrg, provider_id) if provider_id else None,
            county=db.session.get(County, county_id) if county_id else None,
        )
        client_id = client.client_id
        db.session.commit()
    return SimpleNamespace(client_id=client_id, secret=secret)


def form_field(html: str, name: str) -> str:
    import re

    match = re.search(rf'name="{name}"[^>]*value="([^"]+)"', html)
    assert match, f"no {name} on the page"
    return match.group(1)


class Browser:
    """A person's user agent: a requests session that signs in and answers the consent
    page by submitting the app's real HTML forms (with their CSRF tokens)."""

    def __init__(self, server: LiveServer, email: str):
        import requests

        from tests.conftest import PASSWORD

        self.server, self.email, self.password = server, email, PASSWORD
        self.http = requests.Session()

    def authorize(self, url: str, decision: str = "allow"):
        """Follow the authorization URL through sign-in and consent; the final response
        (the redirect back to the app, not followed, or a page)."""
        response = self.http.get(url, allow_redirects=False, timeout=10)
        if response.status_code == 302 and "/login" in response.headers["Location"]:
            login_url = self.server.url + response.headers["Location"]
            page = self.http.get(login_url, timeout=10)
            signed_in = self.http.post(
                login_url,
                data={
                    "email": self.email,
                    "password": self.password,
                    "csrf_token": form_field(page.text, "csrf_token"),
                },
                allow_redirects=False,
                timeout=10,
            )
            assert signed_in.status_code == 302, signed_in.text
            response = self.http.get(
                self.server.url + signed_in.headers["Location"], allow_redirects=False, timeout=10
            )
        if response.status_code != 200 or 'name="decision"' not in response.text:
            return response
        self.consent_page = response.text
        return self.http.post(
            response.url,
            data={"csrf_token": form_field(response.text, "csrf_token"), "decision": decision},
            allow_redirects=False,
            timeout=10,
        )


def code_session(server: LiveServer, app_client, *, scope: str, **kw) -> OAuth2Session:
    """Authlib's OAuth2Session for a partner app: PKCE S256, the registered redirect URI."""
    return OAuth2Session(
        app_client.client_id,
        app_client.secret,
        scope=scope,
        redirect_uri=kw.pop("redirect_uri", REDIRECT_URI),
        code_challenge_method="S256",
        token_endpoint_auth_method="none" if app_client.secret is None else "client_secret_basic",
        **kw,
    )


def authorization_code_flow(server: LiveServer, app_client, email: str, *, scope: str):
    """The whole dance: authorization URL, sign-in, consent, code exchange. Returns
    (session, token, the redirect's URL)."""
    from authlib.common.security import generate_token

    session = code_session(server, app_client, scope=scope)
    verifier = generate_token(48)
    url, _state = session.create_authorization_url(
        server.url + "/oauth/authorize", code_verifier=verifier, nonce=generate_token(20)
    )
    back = Browser(server, email).authorize(url)
    assert back.status_code == 302, back.text[-500:]
    location = back.headers["Location"]
    token = session.fetch_token(
        server.token_url, authorization_response=location, code_verifier=verifier
    )
    return session, token, location
