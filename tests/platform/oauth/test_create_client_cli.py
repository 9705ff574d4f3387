"""``baton create-client`` / ``revoke-client`` as a real subprocess against the suite's DB."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.oauth_support import public_jwks, rsa_key

BATON = Path(sys.executable).parent / "baton"


@pytest.fixture
def baton(database, tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATON_") and k not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL")
    } | {
        "DATABASE_URL": database.app_url,
        "BATON_ENV": "test",
        "SECRET_KEY": secrets.token_urlsafe(30),
        "BATON_INSTANCE_PATH": str(tmp_path / "instance"),
    }

    def run_many(*commands: tuple[str, ...]) -> list[subprocess.CompletedProcess]:
        """Run the commands side by side (each start-up costs seconds)."""
        started = [
            subprocess.Popen(
                [str(BATON), *args],
                env=env,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands
        ]
        results = []
        for process in started:
            out, err = process.communicate(timeout=60)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return results

    run_many.one = lambda *args: run_many(args)[0]
    return run_many


@pytest.fixture
def jwks_file(tmp_path) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(public_jwks(rsa_key("cli-key"))))
    return str(path)


def _count(owner_engine) -> int:
    with owner_engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM oauth_clients")).scalar()


def test_create_client_is_idempotent_and_revocable(baton, world, owner_engine, jwks_file):
    args = ("create-client", "Alpha EHR", "--provider", "pa", "--jwks-file", jwks_file)
    sis = ("create-client", "SIS", "--tenant", "district-a", "--scopes", "system/Task.rs")
    first, by_url = baton(args, (*sis, "--jwks-url", "https://sis.example/jwks.json"))
    assert first.returncode == 0, first.stderr
    assert "created client Alpha EHR: client_id " in first.stdout
    assert "/oauth/token" in first.stdout
    client_id = first.stdout.split("client_id ")[1].split()[0]
    assert by_url.returncode == 0, by_url.stderr
    second, revoked = baton(args, ("revoke-client", client_id))
    assert second.returncode == 0, second.stderr
    assert f"exists  client Alpha EHR: client_id {client_id}" in second.stdout
    assert revoked.returncode == 0, revoked.stderr
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, tenant_id, jwks_uri, allowed_scopes, revoked_at FROM oauth_clients")
        ).all()
    by_name = {row.name: row for row in rows}
    assert set(by_name) == {"Alpha EHR", "SIS"}
    assert by_name["Alpha EHR"].revoked_at is not None
    sis_row = by_name["SIS"]
    assert (sis_row.tenant_id, sis_row.jwks_uri, sis_row.allowed_scopes) == (
        world.tenant_a.id,
        "https://sis.example/jwks.json",
        "system/Task.rs",
    )


# label: (arguments, with {public} / {private} standing for JWKS files, what stderr says).
# The CLI passes messages through; every refusal of the service is in test_clients.py.
BAD = {
    "unknown provider": (("--provider", "nobody", "--jwks-file", "{public}"), "no provider"),
    "bad scope": (
        ("--provider", "pa", "--scopes", "system/Task.sr", "--jwks-file", "{public}"),
        "not understood: system/Task.sr",
    ),
    "private key": (("--provider", "pa", "--jwks-file", "{private}"), "public keys only"),
}


def test_bad_input_exits_2_and_registers_nothing(baton, world, owner_engine, tmp_path):
    key = rsa_key("k")
    files = {}
    for kind in ("public", "private"):
        files[kind] = tmp_path / f"{kind}.json"
        files[kind].write_text(json.dumps({"keys": [key.as_dict(private=kind == "private")]}))
    commands = [
        ("create-client", "Bad", *(a.format(**files) for a in args)) for args, _ in BAD.values()
    ]
    for label, result in zip(BAD, baton(*commands), strict=True):
        assert result.returncode == 2, (label, result.stdout, result.stderr)
        assert BAD[label][1] in result.stderr, label
    assert _count(owner_engine) == 0
