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
        self.app = create_app(base_config(SQLALCHEMY_DATABASE_URI=database.app_url))
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
