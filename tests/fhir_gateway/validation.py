"""What the gateway emits must be FHIR R4: structure (fhir.resources R4B) and the codes it
claims (every coding in a Baton code system is one Baton defines)."""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class

from baton.fhir_gateway.codes import DEFINED

BASE = "https://fhir.baton.example"
TASK_STATUSES = {
    "draft", "requested", "accepted", "rejected", "cancelled", "in-progress", "on-hold",
    "failed", "completed", "entered-in-error",
}  # fmt: skip


def assert_valid_fhir(resource: dict) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for coding in _codings(resource):
        system = coding.get("system", "")
        if system.startswith(f"{BASE}/CodeSystem/"):
            name = system.removeprefix(f"{BASE}/CodeSystem/")
            assert name in DEFINED, f"undefined code system {system}"
            assert coding.get("code") in DEFINED[name], f"{coding.get('code')} not in {system}"
    for task in _resources(resource, "Task"):
        assert task["status"] in TASK_STATUSES, task["status"]


def _codings(node):
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            yield node
        for value in node.values():
            yield from _codings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _codings(item)


def _resources(node, resource_type: str):
    if isinstance(node, dict):
        if node.get("resourceType") == resource_type:
            yield node
        for value in node.values():
            yield from _resources(value, resource_type)
    elif isinstance(node, list):
        for item in node:
            yield from _resources(item, resource_type)
