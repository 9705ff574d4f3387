"""The server's own signing keys (ID tokens, RS256 as OpenID Connect expects by default).

Production reads a private JWK set (or one private JWK) from ``OIDC_SIGNING_KEY``
(``BATON_OIDC_SIGNING_KEY``); the first key signs and every key is published at
``/oauth/jwks``, so a new key can be published before it takes over. Development and the test
suite generate one RSA key into the instance folder on first use, like ``SECRET_KEY``: it never
enters the repository. ``baton generate-oidc-key`` prints a fresh key for production.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import current_app
from joserfc.jwk import KeySet, RSAKey

from baton.platform.config import DEV_ENVIRONMENTS, ConfigError

SIGNING_ALG = "RS256"
_KEY_FILE = "oidc_signing_key.json"


def generate_key_json() -> str:
    """A new private RSA signing key as a JWK set (JSON), with its thumbprint as ``kid``."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": SIGNING_ALG})
    key.ensure_kid()
    return json.dumps({"keys": [key.as_dict(private=True)]})


def signing_keys() -> KeySet:
    """The app's key set, loaded once per app."""
    cache = current_app.extensions.setdefault("baton_oidc_keys", {})
    if "keys" not in cache:
        cache["keys"] = _load(current_app.config.get("OIDC_SIGNING_KEY"))
    return cache["keys"]


def signing_key():
    return signing_keys().keys[0]


def public_jwks() -> dict:
    return {"keys": [key.as_dict(private=False) for key in signing_keys().keys]}


def _load(configured: str | dict | None) -> KeySet:
    if not configured:
        configured = _instance_key()
    data = json.loads(configured) if isinstance(configured, str) else configured
    if "keys" not in data:
        data = {"keys": [data]}
    key_set = KeySet.import_key_set(data)
    if not key_set.keys or not all(k.is_private and k.key_type == "RSA" for k in key_set.keys):
        raise ConfigError("OIDC_SIGNING_KEY must hold private RSA keys (a JWK or JWK set)")
    for key in key_set.keys:
        key.ensure_kid()
    return key_set


def _instance_key() -> str:
    if current_app.config.get("BATON_ENV") not in DEV_ENVIRONMENTS:
        raise ConfigError(
            "BATON_OIDC_SIGNING_KEY must be set in production (baton generate-oidc-key)"
        )
    instance = Path(current_app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / _KEY_FILE
    if not path.exists():
        path.write_text(generate_key_json())
        path.chmod(0o600)
    return path.read_text()
