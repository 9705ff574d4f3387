"""The app's one OAuth 2.0 token service (Authlib), for the JSON API and the FHIR gateway.

Registered clients are each bound to exactly one principal (a district, a provider
organisation or a county). SMART Backend Services: ``client_credentials`` with a
``private_key_jwt`` assertion, 300-second opaque bearer tokens stored only as a hash, SMART
v2/v1 scopes matched by :mod:`baton.platform.oauth.scopes`. Partner apps: authorization code
with PKCE (S256) behind a consent page, rotating refresh tokens, client secrets, OpenID
Connect, revocation and introspection, API scopes onto permissions, rate limits.

Modules: ``models`` (clients, tokens, codes, used assertion ids), ``clients`` (SMART
registration), ``apps`` (partner-app registration), ``assertion`` (RFC 7523 client auth),
``catalogue`` (API/OIDC scopes and what they permit), ``grants`` (code + refresh),
``tokens`` (storing, rotating, revoking), ``oidc`` and ``keys`` (ID tokens, userinfo, the
signing key), ``endpoints`` (revocation, introspection), ``server`` (the AuthorizationServer
and ``/oauth``), ``consent`` (``/oauth/authorize``), ``discovery``, ``ratelimit`` and ``usage``,
``bearer`` (token -> principal), ``forms`` and ``commands``.
"""
