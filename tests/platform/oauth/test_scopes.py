"""The SMART scope matcher, as tables: what a set of scopes covers, grants and permits."""

from __future__ import annotations

import pytest

from baton.platform.oauth import scopes

PARSE = [
    ("system/Task.rus", ("system", "Task", "rus", False)),
    ("system/Task.cruds", ("system", "Task", "cruds", False)),
    ("user/Patient.rs", ("user", "Patient", "rs", False)),
    ("system/*.rs", ("system", "*", "rs", False)),
    ("system/Task.read", ("system", "Task", "rs", True)),
    ("system/Task.write", ("system", "Task", "cud", True)),
    ("system/*.*", ("system", "*", "cruds", True)),
    ("system/Task.sr", None),  # v2 letters out of order
    ("system/Task.rr", None),
    ("system/Task.", None),
    ("system/Task.x", None),
    ("system/task.rs", None),  # resource types are capitalised
    ("robot/Task.rs", None),
    ("openid", None),
    ("system/Task.r*", None),
]


@pytest.mark.parametrize(("scope", "expected"), PARSE)
def test_parse(scope, expected):
    parsed = scopes.parse(scope)
    if expected is None:
        assert parsed is None
    else:
        context, resource, perms, v1 = expected
        assert (parsed.context, parsed.resource, parsed.permissions, parsed.v1) == (
            context,
            resource,
            frozenset(perms),
            v1,
        )


COVERS = [
    # granted, asked, covered?
    ("system/Task.rus", "system/Task.rs", True),
    ("system/Task.rus", "system/Task.rus", True),
    ("system/Task.rs", "system/Task.rus", False),
    ("system/*.rs", "system/Task.rs", True),
    ("system/*.rs", "system/Patient.r", True),
    ("system/*.rs", "system/Task.u", False),
    ("system/Task.read", "system/Task.rs", True),
    ("system/Task.rs", "system/Task.read", True),
    ("system/Task.write", "system/Task.u", True),
    ("system/Task.write", "system/Task.r", False),
    ("system/Task.read system/Task.write", "system/Task.cruds", True),
    ("system/*.*", "system/Communication.c", True),
    ("user/Task.rs", "system/Task.rs", False),  # contexts never mix
    ("system/Task.rs", "user/Task.rs", False),
    ("system/Patient.rs", "system/Task.rs", False),
    ("openid system/Task.rs", "openid", True),  # non-SMART scopes: literal
    ("system/Task.rs", "openid", False),
    ("system/Task.rs", "system/Task.sr", False),  # malformed: literal, absent
]


@pytest.mark.parametrize(("granted", "asked", "covered"), COVERS)
def test_covers(granted, asked, covered):
    assert scopes.covers(granted, asked) is covered


GRANT = [
    # requested, allowed, granted
    (None, "system/Task.rus system/Patient.rs", "system/Task.rus system/Patient.rs"),
    ("", "system/Task.rus", "system/Task.rus"),
    ("system/Task.rs", "system/Task.rus", "system/Task.rs"),
    ("system/Task.read", "system/Task.rus", "system/Task.read"),
    ("system/Task.cruds", "system/Task.rus", "system/Task.rus"),  # narrowed
    ("system/Task.write", "system/Task.rus", "system/Task.u"),  # narrowed to v2 form
    ("system/Task.rs system/Consent.rs", "system/*.rs", "system/Task.rs system/Consent.rs"),
    ("system/Task.rs system/Subscription.c", "system/Task.rus", "system/Task.rs"),  # dropped
    ("system/Subscription.c", "system/Task.rus", None),  # nothing left: invalid_scope
    ("system/Task.rs system/Task.rs", "system/Task.rs", "system/Task.rs"),
    ("user/Task.rs", "system/Task.rs", None),
    ("openid", "system/Task.rs", None),
]


@pytest.mark.parametrize(("requested", "allowed", "granted"), GRANT)
def test_grant(requested, allowed, granted):
    assert scopes.grant(requested, allowed) == granted


PERMITS = [
    # granted, resource, permission, permitted?
    ("system/Task.rs", "Task", "r", True),
    ("system/Task.rs", "Task", "s", True),
    ("system/Task.rs", "Task", "u", False),
    ("system/Task.rus", "Task", "u", True),
    ("system/*.rs", "ServiceRequest", "s", True),
    ("system/Task.read", "Task", "s", True),
    ("system/Task.write", "Task", "u", True),
    ("system/Communication.crs", "Communication", "c", True),
    ("system/Communication.rs", "Communication", "c", False),
    ("patient/Task.rs", "Task", "r", False),  # no patient in a backend token's context
    ("user/Task.rs", "Task", "r", True),
    ("", "Task", "r", False),
]


@pytest.mark.parametrize(("granted", "resource", "permission", "permitted"), PERMITS)
def test_permits(granted, resource, permission, permitted):
    assert scopes.permits(granted, resource, permission) is permitted


def test_permits_any_distinguishes_reading_from_writing():
    assert scopes.permits_any("system/Task.rs", "rs")
    assert not scopes.permits_any("system/Task.rs", "cud")
    assert scopes.permits_any("system/Task.rs system/Communication.c", "cud")
    assert not scopes.permits_any("openid patient/Task.rus", "rs")
