"""The authorization endpoint, ``/oauth/authorize``: a signed-in user sees which app asks for
what, in plain words and for which organisation, and allows or denies it.

The grant never exceeds what the user may do: scopes the user's role could not use are
withheld (and shown as such), and the token acts as the user's membership in the app's own
district, provider or county. Errors about the client or its redirect URI are shown here and
never sent to an unregistered address; every other refusal goes back to the app.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oidc.core.errors import ConsentRequiredError
from flask import Blueprint, g, redirect, render_template, request, url_for

from baton.platform.extensions import db
from baton.platform.models import County, ProviderOrg, Tenant, User
from baton.platform.oauth import catalogue, scopes
from baton.platform.oauth.grants import UserGrant, membership_for
from baton.platform.oauth.server import server
from baton.platform.permissions import role_permissions

bp = Blueprint("oauth_consent", __name__)


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    principal = g.get("principal")
    if principal is None or principal.user_id is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    user = db.session.get(User, principal.user_id)
    try:
        grant = server().get_consent_grant(end_user=user)
        decision = _decide(grant, user)
    except OAuth2Error as error:
        return _refuse(error)
    if request.method == "GET":
        response = render_template("oauth/consent.html", **decision)
        return response, 200, {"Cache-Control": "no-store"}
    allowed = request.form.get("decision") == "allow"
    user_grant = UserGrant(
        user, decision["membership"], " ".join(decision["granted"]), auth_time=user.last_login_at
    )
    return server().create_authorization_response(
        grant_user=user_grant if allowed else None, grant=grant
    )


def _decide(grant, user: User) -> dict:
    """What the page shows and the code will carry; raises OAuth2Error back to the app."""
    client = grant.client.row
    membership = membership_for(client, user.id)
    if membership is None:
        raise _NoRole(client)
    if "none" in (grant.request.payload.data.get("prompt") or "").split():
        raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
    permitted = role_permissions(membership.role)
    asked = scopes.split(grant.request.scope)
    granted = [
        s
        for s in asked
        if catalogue.fits(s, client.principal_kind) and catalogue.role_allows(s, permitted)
    ]
    if not granted:
        raise InvalidScopeError(
            "Your role allows none of the access this app asks for.",
            redirect_uri=grant.redirect_uri,
        )
    return {
        "client": client,
        "organisation": _organisation(client),
        "user": user,
        "membership": membership,
        "granted": granted,
        "withheld": [s for s in asked if s not in granted],
        "describe": catalogue.describe,
    }


class _NoRole(OAuth2Error):
    """The signed-in user holds no role in the app's organisation: shown, not redirected."""

    error = "access_denied"
    status_code = 403

    def __init__(self, client):
        super().__init__(
            f"{client.name} is an app of {_organisation(client)}, where your account has no role."
        )


def _organisation(client) -> str:
    if client.tenant_id:
        return db.session.get(Tenant, client.tenant_id).name
    if client.provider_id:
        return db.session.get(ProviderOrg, client.provider_id).name
    return db.session.get(County, client.county_id).name


def _refuse(error: OAuth2Error):
    if error.redirect_uri:
        return server().handle_error_response(None, error)
    detail = error.description or error.error.replace("_", " ")
    page = render_template("oauth/error.html", title="This app cannot sign you in", detail=detail)
    return page, error.status_code or 400
