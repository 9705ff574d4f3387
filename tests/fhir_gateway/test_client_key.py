"""Baton's signing key as a SMART client: configured in production, generated into the
instance folder in development, its public half served for EHRs to register; and what
/fhir/metadata says about subscriptions."""

from __future__ import annotations

import json

import pytest
import requests
from joserfc.jwk import RSAKey

from baton.fhir_gateway import client_key
from baton.platform.app import create_app
from tests.conftest import base_config


def test_development_generates_one_key_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("BATON_INSTANCE_PATH", str(tmp_path))
    first = create_app(base_config())
    with first.app_context():
        kid = client_key.signing_key().kid
        assert client_key.public_jwks()["keys"][0]["kid"] == kid
    stored = tmp_path / client_key.KEY_FILE
    assert stored.exists() and stored.stat().st_mode & 0o077 == 0
    with create_app(base_config()).app_context():  # another process: the same key
        assert client_key.signing_key().kid == kid


def test_production_takes_the_key_from_configuration_and_never_generates_one(tmp_path, monkeypatch):
    monkeypatch.setenv("BATON_INSTANCE_PATH", str(tmp_path))
    production = base_config(BATON_ENV="production", PASSWORD_HASHING="argon2")
    with create_app(production).app_context():
        assert client_key.public_jwks() == {"keys": []}
        with pytest.raises(client_key.ClientKeyMissing):
            client_key.signing_key()
    assert not (tmp_path / client_key.KEY_FILE).exists()
    key = RSAKey.generate_key(2048)
    configured = {**production, "FHIR_CLIENT_KEY": json.dumps(key.as_dict(private=True))}
    with create_app(configured).app_context():
        [public] = client_key.public_jwks()["keys"]
    assert public["n"] == key.as_dict()["n"] and "d" not in public
    assert (public["alg"], public["use"]) == ("RS384", "sig")
    public_only = {**production, "FHIR_CLIENT_KEY": json.dumps(key.as_dict(private=False))}
    with create_app(public_only).app_context(), pytest.raises(client_key.ClientKeyMissing):
        client_key.signing_key()


def test_the_client_jwks_is_public_and_metadata_lists_subscriptions(push_ready):
    jwks = requests.get(f"{push_ready.url}/fhir/.well-known/client-jwks.json", timeout=10).json()
    assert [k["kty"] for k in jwks["keys"]] == ["RSA"] and "d" not in jwks["keys"][0]
    statement = requests.get(f"{push_ready.url}/fhir/metadata", timeout=10).json()
    assert statement["instantiates"] == [
        "http://hl7.org/fhir/uv/subscriptions-backport/CapabilityStatement/"
        "backport-subscription-server-r4"
    ]
    resource = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription")
    assert {i["code"] for i in resource["interaction"]} == {
        "create", "read", "update", "delete", "search-type",
    }  # fmt: skip
    assert resource["operation"][0]["name"] == "status"
    smart = requests.get(f"{push_ready.url}/fhir/.well-known/smart-configuration", timeout=10)
    assert "system/Subscription.cruds" in smart.json()["scopes_supported"]
