"""FHIR R4 in and out: ServiceRequest/Task mapping, the /fhir endpoint, SMART Backend Services.

Calls the same services as the UI and JSON API; FHIR models never enter ``baton.platform``.
"""


def init_app(app) -> None:
    """Mount ``/fhir`` (token-only: no session, no CSRF) and its OperationOutcome errors."""
    from baton.fhir_gateway import subscription_routes  # noqa: F401  - its routes join bp
    from baton.fhir_gateway.http import operation_outcome
    from baton.fhir_gateway.routes import bp
    from baton.platform.extensions import csrf

    app.extensions.setdefault("baton_error_renderers", {})["fhir"] = operation_outcome
    csrf.exempt(bp)
    app.register_blueprint(bp)
