"""Baton's own signing key as a SMART client of provider EHRs (private_key_jwt, RS384).

Production: the private key comes from configuration (``BATON_FHIR_CLIENT_KEY``: a JWK as
JSON, or a PEM). Development and tests: generated once into the instance folder, like the
demo's secret key, never into the repository. Loaded on first use, not at boot. EHRs
register the public half, served at ``/fhir/.well-known/client-jwks.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import current_app
from joserfc.jwk import RSAKey

from baton.platform.config import DEV_ENVIRONMENTS

ALG = "RS384"
KEY_FILE = "fhir_client_key.json"


class ClientKeyMissing(RuntimeError):
    """No signing key is configured (production): Baton cannot authenticate to EHRs."""


def signing_key() -> RSAKey:
    """The private key (cached on the app); its ``kid`` is its RFC 7638 thumbprint."""
    cache = current_app.extensions.setdefault("baton_fhir_client_key", {})
    if "key" not in cache:
        try:
            cache["key"] = _with_kid(_load())
        except (ValueError, TypeError) as exc:
            raise ClientKeyMissing(
                f"BATON_FHIR_CLIENT_KEY is not an RSA private key: {exc}"
            ) from exc
    return cache["key"]


def public_jwks() -> dict:
    """Baton's public client JWKS (empty when no key is configured in production)."""
    try:
        key = signing_key()
    except ClientKeyMissing:
        return {"keys": []}
    return {"keys": [{**key.as_dict(private=False), "alg": ALG, "use": "sig"}]}


def _load() -> RSAKey:
    configured = current_app.config.get("FHIR_CLIENT_KEY")
    if configured:
        data = configured if isinstance(configured, dict) else _parse(configured)
        return RSAKey.import_key(data)
    if current_app.config.get("BATON_ENV", "development") not in DEV_ENVIRONMENTS:
        raise ClientKeyMissing("set BATON_FHIR_CLIENT_KEY (an RSA private key, JWK or PEM)")
    return _instance_key(Path(current_app.instance_path))


def _parse(value: str):
    value = value.strip()
    return json.loads(value) if value.startswith("{") else value


def _instance_key(instance: Path) -> RSAKey:
    """Generated on first use, written with O_EXCL so concurrent processes agree on one."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / KEY_FILE
    if not path.exists():
        key = RSAKey.generate_key(2048)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                json.dump(key.as_dict(private=True), handle)
    return RSAKey.import_key(json.loads(path.read_text()))


def _with_kid(key: RSAKey) -> RSAKey:
    data = key.as_dict(private=True)
    data["kid"] = data.get("kid") or key.thumbprint()
    return RSAKey.import_key(data)
