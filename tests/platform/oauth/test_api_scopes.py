"""API scopes onto permissions: a token's principal may use a permission only when its role
holds it and a granted scope maps onto it (unit level; end to end in the other files)."""

from __future__ import annotations

import uuid

import pytest

from baton.platform.errors import Forbidden, InsufficientScope
from baton.platform.oauth import catalogue
from baton.platform.permissions import can
from baton.platform.services.common import require_permission
from baton.tenants.context import Principal, acting_as

TENANT = uuid.uuid4()


def _navigator(scopes=None, surface="api") -> Principal:
    return Principal(
        kind="district",
        surface=surface,
        role="navigator",
        tenant_id=TENANT,
        user_id=uuid.uuid4(),
        scopes=frozenset(scopes) if scopes is not None else None,
    )


def test_each_api_scope_maps_onto_its_permissions():
    assert catalogue.permissions_for("referrals:read") == {"referral.read"}
    assert catalogue.permissions_for("referrals:write") == {"referral.manage", "provider.referrals"}
    assert catalogue.permissions_for("county-metrics:read") == {"county.metrics"}
    assert catalogue.permissions_for("openid profile email") == frozenset()
    assert catalogue.permissions_for("system/Task.rs") == {"referral.read"}
    assert "referral.manage" in catalogue.permissions_for("system/Task.u")
    assert catalogue.permissions_for("system/*.rs") >= {"referral.read", "student.read"}
    assert catalogue.permissions_for("patient/Task.rs") == frozenset()


def test_a_token_needs_both_the_role_and_a_scope():
    assert can(_navigator(), "student.read")  # a session: the role alone
    token = _navigator({"referrals:read"})
    assert can(token, "referral.read")
    assert not can(token, "student.read")  # the role may, the scopes do not
    assert not can(_navigator({"county-metrics:read"}), "county.metrics")  # scope, no role
    assert can(_navigator({"referrals:read"}, surface="fhir"), "student.read")  # gateway's job


def test_refusals_say_whether_the_scope_or_the_role_is_missing():
    with acting_as(_navigator({"referrals:read"})), pytest.raises(InsufficientScope):
        require_permission("student.read")
    with acting_as(_navigator({"referrals:read"})), pytest.raises(Forbidden) as role:
        require_permission("county.metrics")
    assert not isinstance(role.value, InsufficientScope)


def test_scopes_fit_only_the_principals_they_make_sense_for():
    assert catalogue.fits("students:read", "district")
    assert not catalogue.fits("students:read", "provider")
    assert not catalogue.fits("referrals:read", "county")
    assert catalogue.fits("county-metrics:read", "county") and catalogue.fits("openid", "county")
    assert catalogue.describe("system/Task.rus") == "Read, update, search FHIR Task (system level)"
    assert all(scope.description for scope in catalogue.API_SCOPES.values())
