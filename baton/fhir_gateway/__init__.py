"""FHIR R4 in and out: ServiceRequest/Task mapping, the /fhir endpoint, SMART Backend Services.

Calls the same services as the UI and JSON API; FHIR models never enter ``baton.platform``.
"""
