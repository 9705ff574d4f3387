"""The one place fhir.resources is imported: FHIR R4 (4.0.1) models from its ``R4B`` package
(the package root is R5). Parsing at the edge turns JSON into checked structure; ``emit``
checks what we are about to send. Models never travel past the gateway's edge modules."""

from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.subscription import Subscription
from fhir.resources.R4B.task import Task
from pydantic import ValidationError

MODELS = {
    model.__name__: model
    for model in (
        Bundle,
        CapabilityStatement,
        Communication,
        Consent,
        OperationOutcome,
        Organization,
        Parameters,
        Patient,
        ServiceRequest,
        Subscription,
        Task,
    )
}


class StructureError(ValueError):
    """The JSON is not a structurally valid resource of the expected type."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def parse(resource_type: str, body: dict) -> dict:
    """Check ``body`` as a ``resource_type`` (structure, types, unknown elements, wrong
    resourceType) and return it as sent (dumping the model back to JSON would cost more
    than checking it; ``task_update`` compares timestamps by instant, not spelling)."""
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        found = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        raise StructureError([f"expected a {resource_type}, got {found!r}"])
    try:
        MODELS[resource_type].model_validate(body)
    except ValidationError as exc:
        raise StructureError([_problem(error) for error in exc.errors()[:10]]) from exc
    return body


def _problem(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
    message = error.get("msg", "invalid").split("\n")[0].strip()
    return f"{where}: {message}" if where else message


def emit(resource: dict) -> dict:
    """Check a resource we built before it leaves (a mapping bug must fail loudly, never
    reach a partner as invalid FHIR); returns the same dict."""
    MODELS[resource["resourceType"]].model_validate(resource)
    return resource
