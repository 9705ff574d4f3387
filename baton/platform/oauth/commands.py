"""Partner-app commands: ``create-app``, ``rotate-app-secret``, ``generate-oidc-key``
(``revoke-client`` revokes any client). Bad input exits 2 with the service's message."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.oauth import apps, keys
from baton.platform.oauth.models import OAuthClient


@click.command("create-app")
@click.argument("name")
@click.option("--tenant", "tenant_slug", default=None, help="the district it belongs to")
@click.option("--provider", "provider_slug", default=None, help="the provider it belongs to")
@click.option("--county", "county_slug", default=None, help="the county it belongs to")
@click.option(
    "--kind",
    type=click.Choice(sorted(apps.CLIENT_TYPES)),
    default="secret",
    show_default=True,
    help="public (PKCE only), secret, or jwks (private_key_jwt)",
)
@click.option("--grant", "grants", multiple=True, type=click.Choice(apps.GRANTS), required=True)
@click.option("--scopes", required=True, help='space-separated, e.g. "openid referrals:read"')
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="repeat for several")
@click.option("--jwks-url", default=None)
@click.option("--jwks-file", type=click.File("r"), default=None)
@with_appcontext
def create_app_command(
    name,
    tenant_slug,
    provider_slug,
    county_slug,
    kind,
    grants,
    scopes,
    redirect_uris,
    jwks_url,
    jwks_file,
):
    """Register a partner app (OAuth client) for one district, provider or county."""
    from baton.platform.commands import _run
    from baton.platform.services import provisioning as prov

    spec = apps.AppSpec(
        name,
        list(grants),
        scopes,
        kind,
        list(redirect_uris),
        jwks=json.load(jwks_file) if jwks_file else None,
        jwks_uri=jwks_url,
    )

    def action():
        return apps.register_app(
            spec,
            tenant=prov.tenant_by_slug(tenant_slug) if tenant_slug else None,
            provider=prov.provider_by_slug(provider_slug) if provider_slug else None,
            county=prov.county_by_slug(county_slug) if county_slug else None,
        )

    client, secret = _run("cli: register partner app", action)
    click.echo(f"created app {client.name}: client_id {client.client_id}")
    if secret:
        click.echo(f"client secret (shown once): {secret}")
    click.echo(
        f"discovery: {current_app.config['BASE_URL'].rstrip('/')}/.well-known/openid-configuration"
    )


@click.command("rotate-app-secret")
@click.argument("client_id")
@with_appcontext
def rotate_app_secret(client_id):
    """Give a partner app a new client secret; the old one stops working at once."""
    from baton.platform.commands import _run

    def action():
        client = db.session.scalars(
            select(OAuthClient).where(OAuthClient.client_id == client_id)
        ).one_or_none()
        if client is None:
            raise InvalidInput(f"no client with id {client_id!r}")
        return apps.rotate_secret(client)

    click.echo(f"client secret (shown once): {_run('cli: rotate app secret', action)}")


@click.command("generate-oidc-key")
def generate_oidc_key():
    """Print a new private RS256 key (JWK set) for BATON_OIDC_SIGNING_KEY."""
    click.echo(keys.generate_key_json())


COMMANDS = (create_app_command, rotate_app_secret, generate_oidc_key)
