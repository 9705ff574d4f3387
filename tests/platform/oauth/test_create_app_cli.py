"""``baton create-app`` / ``rotate-app-secret`` / ``generate-oidc-key`` as real subprocesses."""

from __future__ import annotations

import json

from joserfc.jwk import KeySet
from sqlalchemy import text

from tests.platform.oauth.test_create_client_cli import baton  # noqa: F401 - the fixture


def test_create_app_rotate_and_generate_a_key(baton, world, owner_engine):  # noqa: F811
    county_app, refused, key = baton(
        (
            "create-app",
            "Pipeline",
            "--county",
            "test-county",
            "--grant",
            "client_credentials",
            "--scopes",
            "county-metrics:read",
        ),
        (
            "create-app",
            "Bad",
            "--county",
            "test-county",
            "--grant",
            "client_credentials",
            "--scopes",
            "students:read",
        ),
        ("generate-oidc-key",),
    )
    assert county_app.returncode == 0, county_app.stderr
    client_id = county_app.stdout.split("client_id ")[1].split()[0]
    first = county_app.stdout.split("(shown once): ")[1].split()[0]
    assert refused.returncode == 2 and "not available to a county's app" in refused.stderr
    private = KeySet.import_key_set(json.loads(key.stdout))
    assert private.keys[0].is_private and private.keys[0].kid
    rotated = baton.one("rotate-app-secret", client_id)
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.split("(shown once): ")[1].split()[0]
    assert second != first
    with owner_engine.connect() as conn:
        row = conn.execute(
            text("SELECT name, county_id, allowed_scopes, auth_method FROM oauth_clients")
        ).one()
    assert (row.name, row.county_id, row.allowed_scopes, row.auth_method) == (
        "Pipeline",
        world.county.id,
        "county-metrics:read",
        "client_secret_basic",
    )
