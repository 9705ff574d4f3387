"""FHIR gateway fixtures: the app on a loopback port, EHR clients registered for providers
pa and pb and a district client for A, each with a real token from the token service."""

from __future__ import annotations

import pytest
import requests

from tests.oauth_support import ALL_EHR_SCOPES, fetch_token, register_client

FHIR_JSON = "application/fhir+json"


class Fhir:
    """A requests session against /fhir with one bearer token."""

    def __init__(self, server, token: str | None):
        self.base = f"{server.url}/fhir"
        self.session = requests.Session()
        self.session.headers["Accept"] = FHIR_JSON
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw):
        return self.session.get(self.base + path, timeout=15, **kw)

    def put(self, path: str, body, etag: str | None = None, headers=None, **kw):
        headers = {"Content-Type": FHIR_JSON, **(headers or {})}
        if etag:
            headers["If-Match"] = etag
        data = body if isinstance(body, str | bytes) else None
        json_body = None if data is not None else body
        return self.session.put(
            self.base + path, data=data, json=json_body, headers=headers, timeout=15, **kw
        )

    def post(self, path: str, body, headers=None, **kw):
        headers = {"Content-Type": FHIR_JSON, **(headers or {})}
        return self.session.post(self.base + path, json=body, headers=headers, timeout=15, **kw)

    def close(self):
        self.session.close()


def client_for(live_server, *, scope=None, **registration) -> Fhir:
    client = register_client(live_server.app, **registration)
    token = fetch_token(live_server, client, scope=scope)["access_token"]
    return Fhir(live_server, token)


@pytest.fixture
def fhir_as(live_server):
    """fhir_as(provider_id=… | tenant_id=…, scope=…) -> Fhir with a fresh client's token."""
    made = []

    def make(scope=None, scopes=ALL_EHR_SCOPES, name="EHR", **principal):
        session = client_for(live_server, scope=scope, scopes=scopes, name=name, **principal)
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


@pytest.fixture
def ehr(fhir_as, world):
    """Provider pa's EHR (partner of district A), every EHR scope."""
    return fhir_as(provider_id=world.pa.id)
