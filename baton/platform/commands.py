"""Provisioning commands. Idempotent; bad input is a clear error and a non-zero exit."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from baton.platform.errors import InvalidInput
from baton.platform.extensions import db
from baton.platform.oauth.catalogue import SMART_EHR_SCOPES
from baton.platform.permissions import ROLES
from baton.platform.services import provisioning as prov
from baton.tenants.context import system_scope


def _run(reason: str, action):
    """Run ``action`` in a named system scope and commit, or roll back with a usage error."""
    with system_scope(reason, surface="cli"):
        try:
            result = action()
        except InvalidInput as exc:
            db.session.rollback()
            message = exc.detail
            if message == exc.title and exc.fields:  # only field messages: list them
                message = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
            raise click.UsageError(message) from exc
        db.session.commit()
    return result


def _report(kind: str, label: str, created: bool) -> None:
    click.echo(f"{'created' if created else 'exists '} {kind} {label}")


@click.command("create-county")
@click.argument("name")
@click.option("--slug", required=True, help="short unique name, e.g. lake-county")
@with_appcontext
def create_county(name, slug):
    """Create a county (a group of districts)."""
    county, created = _run("cli: create county", lambda: prov.create_county(name, slug))
    _report("county", county.slug, created)


@click.command("create-tenant")
@click.argument("name")
@click.option("--slug", required=True)
@click.option("--county", "county_slug", required=True, help="slug of the county")
@with_appcontext
def create_tenant(name, slug, county_slug):
    """Create a district (a tenant) in a county."""
    tenant, created = _run(
        "cli: create district", lambda: prov.create_tenant(name, slug, county_slug)
    )
    _report("district", tenant.slug, created)


@click.command("create-school")
@click.argument("name")
@click.option("--tenant", "tenant_slug", required=True, help="slug of the district")
@click.option("--code", required=True, help="the district's school code")
@with_appcontext
def create_school(name, tenant_slug, code):
    """Create a school in a district."""
    school, created = _run(
        "cli: create school",
        lambda: prov.create_school(prov.tenant_by_slug(tenant_slug), name, code),
    )
    _report("school", school.code, created)


@click.command("create-provider")
@click.argument("name")
@click.option("--slug", required=True)
@click.option("--phone", default=None)
@with_appcontext
def create_provider(name, slug, phone):
    """Create a provider organisation."""
    provider, created = _run(
        "cli: create provider", lambda: prov.create_provider(name, slug, phone=phone)
    )
    _report("provider", provider.slug, created)


@click.command("create-partnership")
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--provider", "provider_slug", required=True)
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--data-sharing-signed", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@with_appcontext
def create_partnership(tenant_slug, provider_slug, start, data_sharing_signed):
    """Partner a district with a provider."""

    def action():
        return prov.create_partnership(
            prov.tenant_by_slug(tenant_slug),
            prov.provider_by_slug(provider_slug),
            start=start.date(),
            data_sharing_signed=data_sharing_signed.date() if data_sharing_signed else None,
        )

    _, created = _run("cli: create partnership", action)
    _report("partnership", f"{tenant_slug} <-> {provider_slug}", created)


@click.command("create-user")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(sorted(ROLES)), required=True)
@click.option("--tenant", "tenant_slug", default=None, help="district, for district roles")
@click.option("--provider", "provider_slug", default=None, help="provider, for provider staff")
@click.option("--county", "county_slug", default=None, help="county, for commissioners")
@click.password_option(help="at least 12 characters (prompted when omitted)")
@with_appcontext
def create_user(email, name, role, tenant_slug, provider_slug, county_slug, password):
    """Create a user with a role in one district, provider or county."""

    def action():
        return prov.create_user(
            email,
            name,
            password,
            role,
            tenant=prov.tenant_by_slug(tenant_slug) if tenant_slug else None,
            provider=prov.provider_by_slug(provider_slug) if provider_slug else None,
            county=prov.county_by_slug(county_slug) if county_slug else None,
        )

    user, created = _run("cli: create user", action)
    _report("user", f"{user.email} ({role})", created)


EHR_SCOPES = " ".join(SMART_EHR_SCOPES)


@click.command("create-client")
@click.argument("name")
@click.option("--tenant", "tenant_slug", default=None, help="the district the client acts for")
@click.option("--provider", "provider_slug", default=None, help="the provider it acts for")
@click.option("--scopes", default=EHR_SCOPES, show_default=True, help="SMART scopes allowed")
@click.option("--jwks-url", default=None, help="where the client publishes its public keys")
@click.option(
    "--jwks-file", type=click.File("r"), default=None, help="its public JWKS, inline (JSON file)"
)
@with_appcontext
def create_client(name, tenant_slug, provider_slug, scopes, jwks_url, jwks_file):
    """Register an OAuth client (SMART Backend Services) for one district or provider."""
    import json

    from flask import current_app

    from baton.platform.oauth import clients

    try:
        jwks = json.load(jwks_file) if jwks_file else None
    except ValueError as exc:
        raise click.UsageError(f"--jwks-file is not JSON: {exc}") from exc

    def action():
        return clients.create_client(
            name,
            tenant=prov.tenant_by_slug(tenant_slug) if tenant_slug else None,
            provider=prov.provider_by_slug(provider_slug) if provider_slug else None,
            scopes=scopes,
            jwks=jwks,
            jwks_uri=jwks_url,
            allow_http_jwks=current_app.config["BATON_ENV"] != "production",
        )

    client, created = _run("cli: create oauth client", action)
    _report("client", f"{client.name}: client_id {client.client_id}", created)
    click.echo(f"token endpoint: {current_app.config['BASE_URL'].rstrip('/')}/oauth/token")


@click.command("revoke-client")
@click.argument("client_id")
@with_appcontext
def revoke_client(client_id):
    """Revoke an OAuth client: its tokens stop working at once."""
    from baton.platform.oauth import clients

    client = _run("cli: revoke oauth client", lambda: clients.revoke_client(client_id))
    click.echo(f"revoked client {client.client_id} ({client.name})")


@click.command("set-fhir-endpoint")
@click.option("--provider", "provider_slug", required=True, help="the provider's slug")
@click.option("--base-url", required=True, help="the EHR's FHIR base URL (https://)")
@click.option("--client-id", required=True, help="the client id the EHR registered for Baton")
@click.option("--scope", default=None, help="SMART scopes to ask the EHR for")
@click.option(
    "--route-services", is_flag=True, help="push referrals to all the provider's services here"
)
@with_appcontext
def set_fhir_endpoint(provider_slug, base_url, client_id, scope, route_services):
    """Register a provider EHR Baton pushes referrals to (Baton's client at that EHR)."""
    from flask import current_app

    from baton.platform.services import endpoints

    def action():
        return endpoints.set_fhir_endpoint(
            prov.provider_by_slug(provider_slug),
            base_url,
            client_id,
            scope=scope or endpoints.DEFAULT_SCOPE,
            route_services=route_services,
        )

    endpoint, created = _run("cli: set a provider's FHIR endpoint", action)
    _report("FHIR endpoint", endpoint.base_url, created)
    base = current_app.config["BASE_URL"].rstrip("/")
    click.echo(f"register Baton's public keys at the EHR: {base}/fhir/.well-known/client-jwks.json")


@click.command("set-fhir-code-map")
@click.option("--provider", "provider_slug", required=True, help="the provider's slug")
@click.option(
    "--file",
    "source",
    type=click.File("r"),
    required=True,
    help="lines of system|code = baton-code ('-' reads standard input; empty clears the map)",
)
@with_appcontext
def set_fhir_code_map(provider_slug, source):
    """Replace the map from a provider EHR's own codes to Baton's businessStatus and
    decline-reason codes (e.g. a BSeR status code)."""
    from baton.platform.services import code_maps

    text = source.read()
    mappings = _run(
        "cli: set a provider's FHIR code map",
        lambda: code_maps.set_code_map(prov.provider_by_slug(provider_slug), text),
    )
    click.echo(f"{len(mappings)} code(s) mapped for {provider_slug}")
    for mapping in mappings:
        click.echo(f"  {mapping.line()}")


@click.command("show-fhir-code-map")
@click.option("--provider", "provider_slug", required=True, help="the provider's slug")
@with_appcontext
def show_fhir_code_map(provider_slug):
    """Print a provider's FHIR code map, in the form set-fhir-code-map reads."""
    from baton.platform.services import code_maps

    mappings = _run(
        "cli: show a provider's FHIR code map",
        lambda: code_maps.code_map(prov.provider_by_slug(provider_slug).id),
    )
    click.echo(code_maps.as_text(mappings) or f"# no codes mapped for {provider_slug}")


@click.command("seed-demo")
@click.option("--students", default=300, show_default=True, help="students across the districts")
@with_appcontext
def seed_demo(students):
    """Load the demo county, districts, schools, providers, users and students (idempotent)."""
    from flask import current_app

    from baton.platform.seed import DEMO_PASSWORD, seed

    if current_app.config["BATON_ENV"] not in ("development", "test"):
        raise click.UsageError("demo data is only for development; BATON_ENV is production")
    logins = _run("cli: seed demo data", lambda: seed(student_count=students))
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for email, label in logins:
        click.echo(f"  {email:<36} {label}")


@click.command("simulate")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 365))
@click.option(
    "--per-day",
    default=2,
    show_default=True,
    type=click.IntRange(1, 50),
    help="new referrals per district per day",
)
@with_appcontext
def simulate_command(days, per_day):
    """Drive a realistic stretch of days through the services and the clock (development)."""
    import random

    from flask import current_app

    from baton.platform.simulate import simulate

    if current_app.config["BATON_ENV"] not in ("development", "test"):
        raise click.UsageError("simulation is only for development; BATON_ENV is production")
    counts = _run(
        "cli: simulate", lambda: simulate(random.Random(days), days=days, per_day=per_day)
    )
    click.echo(", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items()))


def register(group: click.Group) -> None:
    from baton.platform.oauth.commands import COMMANDS as OAUTH_COMMANDS

    for command in (
        *OAUTH_COMMANDS,
        create_county,
        create_tenant,
        create_school,
        create_provider,
        create_partnership,
        create_user,
        create_client,
        revoke_client,
        set_fhir_endpoint,
        set_fhir_code_map,
        show_fhir_code_map,
        seed_demo,
        simulate_command,
    ):
        group.add_command(command)
