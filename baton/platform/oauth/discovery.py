"""Discovery: ``/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0) and the
same document at ``/.well-known/oauth-authorization-server`` (RFC 8414)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from baton.platform.oauth import catalogue, keys
from baton.platform.oauth.clients import SIGNING_ALGS
from baton.platform.oauth.oidc import issuer

bp = Blueprint("oauth_discovery", __name__)

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CLAIMS = [
    "sub",
    "name",
    "email",
    "baton_role",
    "baton_org",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
]


def server_metadata() -> dict:
    """What a partner app's OAuth/OIDC library needs to find every endpoint."""
    from baton.platform.oauth.server import grant_types_supported

    base = issuer()
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "userinfo_endpoint": f"{base}/oauth/userinfo",
        "jwks_uri": f"{base}/oauth/jwks",
        "service_documentation": f"{base}/developers",
        "scopes_supported": [*catalogue.OIDC_SCOPES, *catalogue.API_SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types_supported(),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": [m for m in AUTH_METHODS if m != "none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.SIGNING_ALG],
        "claims_supported": CLAIMS,
        "prompt_values_supported": ["none", "consent"],
    }


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    return jsonify(server_metadata())


@bp.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata():
    return jsonify(server_metadata())
