"""``/fhir/metadata`` (§11) and ``/fhir/.well-known/smart-configuration`` (§10).

Both describe only what this server does: resources and interactions served here, the grant
types registered on the token service, the backport Subscription server it instantiates.
"""

from __future__ import annotations

from baton.fhir_gateway import codes
from baton.fhir_gateway.http import fhir_base
from baton.platform.oauth.assertion import token_url
from baton.platform.oauth.catalogue import SMART_EHR_SCOPES
from baton.platform.oauth.clients import SIGNING_ALGS
from baton.platform.oauth.server import grant_types_supported

RELEASED = "2026-12-01"
SDOHCC_IG = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/ImplementationGuide/hl7.fhir.us.sdoh-clinicalcare"
)
TOPIC_EXTENSION = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "capabilitystatement-subscriptiontopic-canonical"
)
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
EHR_SCOPES = SMART_EHR_SCOPES
BACKPORT_SERVER = (
    "http://hl7.org/fhir/uv/subscriptions-backport/CapabilityStatement/"
    "backport-subscription-server-r4"
)
STATUS_OPERATION = (
    "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status"
)

TASK_SEARCH = {
    "_id": "token",
    "_lastUpdated": "date",
    "identifier": "token",
    "owner": "reference",
    "requester": "reference",
    "status": "token",
    "business-status": "token",
    "patient": "reference",
    "focus": "reference",
    "code": "token",
}
SR_SEARCH = {
    "_id": "token",
    "identifier": "token",
    "patient": "reference",
    "status": "token",
    "requester": "reference",
    "performer": "reference",
    "_lastUpdated": "date",
}


def _params(params: dict[str, str]) -> list[dict]:
    return [{"name": name, "type": kind} for name, kind in params.items()]


def _resource(kind: str, interactions: list[str], **extra) -> dict:
    return {
        "type": kind,
        "interaction": [{"code": code} for code in interactions],
        **extra,
    }


def resources() -> list[dict]:
    return [
        _resource(
            "Task",
            ["read", "vread", "update", "search-type", "history-instance"],
            supportedProfile=[codes.TASK_PROFILE],
            versioning="versioned-update",
            readHistory=True,
            updateCreate=False,
            conditionalUpdate=False,
            searchInclude=["Task:focus", "Task:patient"],
            searchParam=_params(TASK_SEARCH),
            extension=[{"url": TOPIC_EXTENSION, "valueCanonical": codes.TASK_TOPIC}],
        ),
        _resource(
            "ServiceRequest",
            ["read", "vread", "search-type"],
            supportedProfile=[codes.SERVICE_REQUEST_PROFILE],
            versioning="versioned",
            readHistory=True,
            searchParam=_params(SR_SEARCH),
        ),
        _resource("Patient", ["read"]),
        _resource("Consent", ["read"]),
        _resource("Organization", ["read"]),
        _resource(
            "Communication",
            ["create", "read", "search-type"],
            searchParam=_params({"based-on": "reference", "part-of": "reference"}),
        ),
        _resource(
            "Subscription",
            ["create", "read", "update", "delete", "search-type"],
            supportedProfile=[
                "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
                "backport-subscription"
            ],
            searchParam=_params({"status": "token"}),
            operation=[{"name": "status", "definition": STATUS_OPERATION}],
        ),
    ]


def capability_statement() -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": RELEASED,
        "publisher": "Baton",
        "kind": "instance",
        "software": {"name": "Baton"},
        "implementation": {"description": "Baton FHIR gateway", "url": fhir_base()},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "implementationGuide": [SDOHCC_IG],
        "instantiates": [BACKPORT_SERVER],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": OAUTH_URIS,
                            "extension": [{"url": "token", "valueUri": token_url()}],
                        }
                    ],
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "SMART Backend Services: client_credentials with a "
                    "private_key_jwt assertion (RS384 or ES384)",
                },
                "resource": resources(),
            }
        ],
    }


def smart_configuration() -> dict:
    return {
        "issuer": fhir_base(),
        "token_endpoint": token_url(),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
        "grant_types_supported": grant_types_supported(),
        "scopes_supported": list(EHR_SCOPES),
        "capabilities": ["client-confidential-asymmetric", "permission-v2", "permission-v1"],
        "code_challenge_methods_supported": ["S256"],
    }
