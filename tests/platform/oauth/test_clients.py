"""Registering clients: one principal, SMART scopes, public RS/EC keys with ids, one source."""

from __future__ import annotations

import pytest

from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.models import ProviderOrg, Tenant
from baton.platform.oauth import clients
from baton.tenants.context import system_scope
from tests.oauth_support import ec_key, public_jwks, rsa_key

KEY = rsa_key("k1")


def _principals(world):
    return db.session.get(Tenant, world.tenant_a.id), db.session.get(ProviderOrg, world.pa.id)


REFUSED = {
    "no principal": lambda t, p: {"scopes": "system/Task.rs", "jwks": public_jwks(KEY)},
    "two principals": lambda t, p: {
        "tenant": t,
        "provider": p,
        "scopes": "system/Task.rs",
        "jwks": public_jwks(KEY),
    },
    "no scope": lambda t, p: {"provider": p, "scopes": " ", "jwks": public_jwks(KEY)},
    "bad scope": lambda t, p: {"provider": p, "scopes": "Task.read", "jwks": public_jwks(KEY)},
    "no keys": lambda t, p: {"provider": p, "scopes": "system/Task.rs"},
    "both key sources": lambda t, p: {
        "provider": p,
        "scopes": "system/Task.rs",
        "jwks": public_jwks(KEY),
        "jwks_uri": "https://ehr.example/jwks",
    },
    "empty jwks": lambda t, p: {"provider": p, "scopes": "system/Task.rs", "jwks": {"keys": []}},
    "key without kid": lambda t, p: {
        "provider": p,
        "scopes": "system/Task.rs",
        "jwks": {"keys": [{k: v for k, v in KEY.as_dict(private=False).items() if k != "kid"}]},
    },
    "private key": lambda t, p: {
        "provider": p,
        "scopes": "system/Task.rs",
        "jwks": {"keys": [KEY.as_dict(private=True)]},
    },
    "http jwks url": lambda t, p: {
        "provider": p,
        "scopes": "system/Task.rs",
        "jwks_uri": "http://ehr.example/jwks",
    },
}


@pytest.mark.parametrize("label", REFUSED)
def test_refused_registrations_create_nothing(app, world, label):
    with app.app_context(), system_scope("test"):
        tenant, provider = _principals(world)
        with pytest.raises(InvalidInput):
            clients.create_client("Bad", **REFUSED[label](tenant, provider))
        assert db.session.scalars(db.select(clients.OAuthClient)).all() == []


def test_same_name_for_the_same_principal_is_the_same_client(app, world):
    with app.app_context(), system_scope("test"):
        tenant, provider = _principals(world)
        keys = public_jwks(KEY, ec_key("e1"))
        first, created = clients.create_client(
            "EHR", provider=provider, scopes="system/Task.rs", jwks=keys
        )
        again, created_again = clients.create_client(
            "EHR", provider=provider, scopes="system/Task.rs", jwks=keys
        )
        other, _ = clients.create_client("EHR", tenant=tenant, scopes="system/*.rs", jwks=keys)
        assert (created, created_again) == (True, False)
        assert again.id == first.id != other.id
        assert [k["kid"] for k in first.jwks["keys"]] == ["k1", "e1"]
        assert first.principal_kind == "provider" and other.principal_kind == "district"
