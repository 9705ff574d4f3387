"""The admin form for registering a partner app."""

from __future__ import annotations

import json

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length, Optional

from baton.platform.forms import choices
from baton.platform.oauth import catalogue
from baton.platform.oauth.apps import AppSpec

CLIENT_TYPES = [
    ("secret", "Confidential, with a client secret (a server-side web app or a sync job)"),
    ("public", "Public, PKCE only (a native or single-page app that cannot keep a secret)"),
    (
        "jwks",
        "Confidential, signs assertions with its own key (private_key_jwt: a JWKS URL or the"
        " JWKS pasted below; what SMART Backend Services and FHIR clients use)",
    ),
]
GRANTS = [
    ("authorization_code", "Staff sign in and allow it (authorization code with PKCE)"),
    ("refresh_token", "Stay connected without asking again (rotating refresh tokens)"),
    ("client_credentials", "Acts as the organisation itself, no person (client credentials)"),
]


def _checkboxes(label: str, pairs) -> SelectMultipleField:
    return SelectMultipleField(
        label,
        choices=choices(pairs),
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
    )


class AppForm(FlaskForm):
    name = StringField(
        "App name (shown to staff when it asks for access)",
        validators=[DataRequired(), Length(max=200)],
    )
    client_type = RadioField("Kind of app", choices=choices(CLIENT_TYPES), default="secret")
    grant_types = _checkboxes("How it gets access", GRANTS)
    scopes = _checkboxes("What it may do (never more than the person or organisation may)", [])
    redirect_uris = TextAreaField(
        "Redirect URIs, one per line (https://, or http://127.0.0.1 for a native app)",
        validators=[Optional(), Length(max=5000)],
    )
    jwks_uri = StringField(
        "JWKS URL (signed assertions only)", validators=[Optional(), Length(max=500)]
    )
    jwks = TextAreaField(
        "…or its public JWKS, pasted as JSON", validators=[Optional(), Length(max=20000)]
    )

    def offer_scopes(self, kind: str) -> None:
        offered = [(name, f"{text} ({name})") for name, text in catalogue.OIDC_SCOPES.items()]
        offered += [(s.name, f"{s.description} ({s.name})") for s in catalogue.offered_to(kind)]
        offered += [(s, f"{catalogue.describe(s)} ({s})") for s in catalogue.smart_offered_to(kind)]
        self.scopes.choices = choices(offered)

    def spec(self) -> AppSpec:
        """The registration this form asks for; InvalidInput-style errors for bad JSON."""
        return AppSpec(
            name=self.name.data or "",
            grant_types=list(self.grant_types.data or []),
            scopes=" ".join(self.scopes.data or []),
            client_type=self.client_type.data,
            redirect_uris=[
                u.strip() for u in (self.redirect_uris.data or "").splitlines() if u.strip()
            ],
            jwks=self._jwks(),
            jwks_uri=(self.jwks_uri.data or "").strip() or None,
        )

    def _jwks(self) -> dict | None:
        raw = (self.jwks.data or "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return {"invalid": raw[:40]}  # check_jwks refuses it with a field message
        return value if isinstance(value, dict) else {"invalid": True}
