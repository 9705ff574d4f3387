"""The app's one OAuth 2.0 token service (Authlib), for the JSON API and the FHIR gateway.

Registered clients are each bound to exactly one principal (a district or a provider
organisation). SMART Backend Services: ``client_credentials`` with a ``private_key_jwt``
assertion, 300-second opaque bearer tokens stored only as a hash, SMART v2/v1 scopes
matched by :mod:`baton.platform.oauth.scopes`. Modules: ``models`` (clients, tokens, used
assertion ids), ``clients`` (registration), ``assertion`` (the RFC 7523 client auth),
``server`` (the AuthorizationServer and ``/oauth/token``), ``bearer`` (token -> principal).
"""
