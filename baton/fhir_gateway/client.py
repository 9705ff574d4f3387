"""Baton as a FHIR client of provider EHRs: SMART Backend Services tokens (Authlib, our own
``private_key_jwt`` RS384 assertions of at most 300 s), and one function that turns every
HTTP outcome into a result or a typed error (``_do_request``, as fhir-py does).

TLS is verified against the system's CAs, or the bundle in ``FHIR_CA_BUNDLE``.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from flask import current_app

from baton.fhir_gateway.client_key import ALG, ClientKeyMissing, signing_key

FHIR_JSON = "application/fhir+json"
ASSERTION_LIFETIME = 300
_tokens: dict[tuple[str, str], tuple[float, str]] = {}


class RemoteError(Exception):
    """The EHR did not take the request. ``transient``: worth retrying later."""

    transient = True

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RemoteUnavailable(RemoteError):
    """Unreachable, timed out, 5xx or 429: try again later."""


class RemoteUnauthorized(RemoteError):
    """401: the token was refused (it is dropped; the next try gets a new one)."""


class RemoteConflict(RemoteError):
    """409 or 412: the resource changed there since Baton read it."""


class RemoteRejected(RemoteError):
    """Another 4xx: the EHR refused the message itself; retrying will not help."""

    transient = False


class RemoteNotFound(RemoteRejected):
    """404: the resource is not (or no longer) there."""


def verify() -> str | bool:
    return current_app.config.get("FHIR_CA_BUNDLE") or True


def timeout() -> float:
    return float(current_app.config.get("FHIR_HTTP_TIMEOUT", 10))


def _do_request(session: requests.Session, method: str, url: str, **kw) -> requests.Response:
    """One HTTP exchange; 2xx is returned, everything else raised as a RemoteError."""
    try:
        response = session.request(method, url, timeout=timeout(), verify=verify(), **kw)
    except requests.RequestException as exc:
        raise RemoteUnavailable(f"{type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if status < 300:
        return response
    detail = f"{method} {url.split('?')[0]} -> {status}: {_diagnostics(response)}"
    if status == 401:
        raise RemoteUnauthorized(detail, status)
    if status in (409, 412):
        raise RemoteConflict(detail, status)
    if status == 404:
        raise RemoteNotFound(detail, status)
    if status == 429 or status >= 500 or status == 408:
        raise RemoteUnavailable(detail, status)
    raise RemoteRejected(detail, status)


def _diagnostics(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    issues = body.get("issue") if isinstance(body, dict) else None
    if issues:
        return "; ".join(i.get("diagnostics") or i.get("code", "") for i in issues)[:200]
    return str(body)[:200]


class SmartAssertion(PrivateKeyJWT):
    """Authlib's private_key_jwt with SMART's rules: RS384, ``kid`` in the header, a fresh
    ``jti`` and an ``exp`` at most five minutes ahead on every token request."""

    def __init__(self, token_endpoint: str, kid: str):
        super().__init__(token_endpoint, headers={"kid": kid}, alg=ALG)

    def sign(self, auth, token_endpoint):
        self.claims = {"exp": int(time.time()) + ASSERTION_LIFETIME}
        return super().sign(auth, token_endpoint)


class FhirClient:
    """Requests to one EHR's FHIR base as Baton's registered client there."""

    def __init__(self, base_url: str, client_id: str, scope: str):
        self.base = base_url.rstrip("/")
        self.client_id, self.scope = client_id, scope
        self.session = requests.Session()
        self.session.headers.update({"Accept": FHIR_JSON})

    def request(self, method: str, path: str, *, json=None, headers=None) -> requests.Response:
        """``path`` relative to the base, or a full URL (a ``next`` link) under the base:
        the bearer token is for this EHR, and a link elsewhere must not carry it."""
        if path.startswith(("https://", "http://")):
            if not self._under_base(path):
                raise RemoteRejected(f"the EHR linked outside its FHIR base: {path[:200]}")
            url = path
        else:
            url = f"{self.base}/{path}".rstrip("/")
        sent = {"Authorization": f"Bearer {self._token()}", **(headers or {})}
        if json is not None:
            sent["Content-Type"] = FHIR_JSON
        try:
            return _do_request(self.session, method, url, json=json, headers=sent)
        except RemoteUnauthorized:
            _tokens.pop((self.base, self.client_id), None)
            raise

    def _under_base(self, url: str) -> bool:
        there, here = urlsplit(url), urlsplit(self.base)
        same_origin = (there.scheme, there.netloc.lower()) == (here.scheme, here.netloc.lower())
        return same_origin and (there.path + "/").startswith(here.path.rstrip("/") + "/")

    def _token(self) -> str:
        cached = _tokens.get((self.base, self.client_id))
        if cached and cached[0] > time.monotonic():
            return cached[1]
        token_url = self._token_endpoint()
        try:
            key = signing_key()
        except ClientKeyMissing as exc:
            raise RemoteRejected(str(exc)) from exc
        with OAuth2Session(
            self.client_id,
            key,
            token_endpoint_auth_method="private_key_jwt",  # noqa: S106 - a method name
            scope=self.scope,
        ) as oauth:
            oauth.register_client_auth_method(SmartAssertion(token_url, key.kid))
            token = self._fetch(oauth, token_url)
        lifetime = min(int(token.get("expires_in", 300)), 3600)
        _tokens[(self.base, self.client_id)] = (
            time.monotonic() + lifetime - 30,
            token["access_token"],
        )
        return token["access_token"]

    def _fetch(self, oauth: OAuth2Session, token_url: str) -> dict:
        try:
            return oauth.fetch_token(
                token_url, grant_type="client_credentials", timeout=timeout(), verify=verify()
            )
        except requests.RequestException as exc:
            raise RemoteUnavailable(f"token endpoint: {type(exc).__name__}: {exc}") from exc
        except OAuthError as exc:  # the EHR refused our client or its assertion
            raise RemoteUnauthorized(f"token endpoint refused Baton's client: {exc}") from exc

    def _token_endpoint(self) -> str:
        """Discovered from the EHR's SMART configuration."""
        response = _do_request(self.session, "GET", f"{self.base}/.well-known/smart-configuration")
        try:
            return response.json()["token_endpoint"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RemoteRejected("the EHR's smart-configuration names no token_endpoint") from exc

    def close(self) -> None:
        self.session.close()
