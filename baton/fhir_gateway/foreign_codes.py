"""A partner EHR's own codes in an inbound Task, rewritten as Baton's before the Task is
checked (fhir-profile.md §4). The provider's map (``services/code_maps``) says what each
(system, code) means; the rewritten Task then meets the value-set checks and the state
machine exactly as one coded in Baton's systems would.

- ``businessStatus`` with no Baton coding: a mapped coding becomes Baton's; with none mapped
  it is left as sent, so ``task_update`` refuses it, naming the codes.
- ``statusReason`` with no decline-reason coding: a mapped coding becomes Baton's; an unmapped
  one stays text, as before.
- Codings that mean different Baton codes (two foreign ones, or a foreign one against Baton's
  own) are refused: Baton does not guess which the EHR meant.
"""

from __future__ import annotations

from baton.fhir_gateway import codes
from baton.fhir_gateway.codes import BadCode
from baton.platform.services.code_maps import BUSINESS_STATUSES, REASONS

# element -> (Baton's code system for it, the Baton codes a mapping may give it)
ELEMENTS = {
    "businessStatus": ("referral-business-status", BUSINESS_STATUSES),
    "statusReason": ("decline-reason", REASONS),
}


def foreign(incoming: dict) -> bool:
    """Whether any businessStatus or statusReason coding is in a system not Baton's own
    (only then is the provider's map worth reading: the hot path sends Baton's codes)."""
    for element, (name, _) in ELEMENTS.items():
        concept = incoming.get(element)
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for c in codings if isinstance(codings, list) else []:
            if isinstance(c, dict) and c.get("system") != codes.system(name):
                return True
    return False


def translate(incoming: dict, code_map: dict[tuple[str, str], str]) -> tuple[dict, list[dict]]:
    """``incoming`` with mapped foreign codings replaced by Baton's, and what was replaced
    (element, system, code, the Baton code): for the event and audit row. Raises BadCode
    when an element's codings disagree."""
    if not code_map:
        return incoming, []
    translated, used = dict(incoming), []
    for element, (name, allowed) in ELEMENTS.items():
        concept = incoming.get(element)
        if not isinstance(concept, dict):
            continue
        codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
        mapped = [
            (c, code_map[key])
            for c in codings
            if (key := (c.get("system"), c.get("code"))) in code_map and code_map[key] in allowed
        ]
        own = {c.get("code") for c in codings if c.get("system") == codes.system(name)}
        meant = own | {code for _, code in mapped}
        if len(meant) > 1:
            raise BadCode(
                f"{element} codings mean different things in Baton's {name} "
                f"({', '.join(sorted(str(m) for m in meant))}): send one"
            )
        if own or not mapped:
            continue
        code = mapped[0][1]
        text = concept.get("text") if element == "statusReason" else None
        translated[element] = codes.concept(name, code, text or _reason_text(element, code))
        used += [
            {"element": element, "system": c["system"], "code": c["code"], "mapped_to": code}
            for c, _ in mapped
        ]
    return translated, used


def _reason_text(element: str, code: str) -> str | None:
    # As Baton writes its own reasons (mapping._status_reason), so a re-sent Task compares equal.
    return code.replace("-", " ") if element == "statusReason" else None
