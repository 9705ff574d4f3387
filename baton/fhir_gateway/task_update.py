"""An inbound ``PUT /Task/{id}``: what changed, checked against the profile (§3-§5).

Only ``status``, ``statusReason``, ``businessStatus``, ``output``, ``executionPeriod`` and the
FILL identifier may differ from the Task as Baton has it; anything else (``for``, ``focus``,
``owner``, an added ``note`` …) is refused. The move itself is then the state machine's
decision, through ``transition_referral`` — nothing here decides who may move where.
A partner's own codes are rewritten as Baton's first (``parse_inbound``, ``foreign_codes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from baton.fhir_gateway import codes, foreign_codes
from baton.fhir_gateway.codes import BadCode
from baton.platform import lifecycle
from baton.platform.errors import InvalidInput
from baton.platform.services import code_maps

MUTABLE = {
    "resourceType",
    "id",
    "meta",
    "text",
    "status",
    "statusReason",
    "businessStatus",
    "output",
    "executionPeriod",
    "identifier",
    "lastModified",
}
# SDOHCC's referral Task statuses (no ready, no received).
TASK_STATUSES = (
    "draft",
    "requested",
    "accepted",
    "rejected",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
)
# Task.status without a businessStatus that can mean only one Baton status.
IMPLIED = {"accepted": "accepted", "completed": "closed-completed", "on-hold": "disengaged"}
NO_BUSINESS_STATUS = {"entered-in-error": "entered-in-error", "draft": "draft"}


@dataclass
class TaskChange:
    target: str | None  # None: nothing to change
    reason: str | None = None
    appointment_at: datetime | None = None
    redirected_to: str | None = None
    provider_ref: dict | None = None
    foreign_codes: list[dict] | None = None  # the EHR's own codings the change was read from


def parse_inbound(incoming: dict, current: dict, status: str, current_ref: dict | None):
    """Every inbound Task change (a hosted ``PUT /Task``, a mirrored remote version) comes
    through here: the acting provider's foreign codes become Baton's first, so the checks of
    ``parse_update`` and the state machine then apply unchanged."""
    used = []
    if foreign_codes.foreign(incoming):
        incoming, used = foreign_codes.translate(incoming, code_maps.for_acting_provider())
    change = parse_update(incoming, current, status, current_ref)
    change.foreign_codes = used or None
    return change


def parse_update(incoming: dict, current: dict, status: str, current_ref: dict | None):
    """The change ``incoming`` asks of the Task ``current`` (both normalised JSON) whose
    referral is in ``status``. Raises InvalidInput (422) or BadCode (400)."""
    if incoming.get("note"):
        raise InvalidInput(
            "Baton takes no clinical free text: remove Task.note", fields={"note": "not allowed"}
        )
    changed = sorted(
        k
        for k in (set(incoming) | set(current)) - MUTABLE
        if canonical(incoming.get(k)) != canonical(current.get(k))
    )
    if changed:
        raise InvalidInput(
            f"Only status, statusReason, businessStatus, output, executionPeriod and the FILL "
            f"identifier may change; refused: {', '.join(changed)}",
            fields={name: "cannot change" for name in changed},
        )
    provider_ref = _provider_ref(incoming, current)
    target = _target(incoming, current, status)
    outputs = _outputs(incoming.get("output") or [])
    change = TaskChange(
        target=target,
        reason=_reason(incoming.get("statusReason"), target),
        appointment_at=outputs.get("appointment"),
        redirected_to=outputs.get("redirected-to"),
        provider_ref=provider_ref if provider_ref != current_ref else None,
    )
    return _unless_unchanged(change, incoming, current, status)


def canonical(value):
    """``value`` with FHIR instants as datetimes and empty elements dropped, so spellings of
    the same content compare equal (``Z`` or ``+00:00``, with or without milliseconds)."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, str) and _INSTANT.match(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def _unless_unchanged(change: TaskChange, incoming: dict, current: dict, status: str):
    same = all(
        canonical(incoming.get(k)) == canonical(current.get(k)) for k in ("statusReason", "output")
    )
    if change.target != status:
        return change
    if change.target == "scheduled" and not same:
        return change  # a new appointment: a reschedule
    if same and change.provider_ref is None:
        return TaskChange(target=None)
    if same:
        raise InvalidInput(
            "The FILL identifier is recorded with a status change (e.g. requested/received)",
            fields={"identifier": "needs a status change"},
        )
    return change  # the state machine says whether this same-status change is allowed


def _target(incoming: dict, current: dict, status: str) -> str:
    task_status = incoming.get("status")
    if task_status not in TASK_STATUSES:
        raise BadCode(f"Task.status {task_status!r} is not in the SDOHCC referral value set")
    business = _business_status(incoming.get("businessStatus"))
    if business is None:
        if task_status in NO_BUSINESS_STATUS:
            return NO_BUSINESS_STATUS[task_status]
        if task_status == current.get("status"):
            return status
        if task_status in IMPLIED:
            return IMPLIED[task_status]
        raise InvalidInput(
            f"Task.status {task_status} needs a businessStatus",
            fields={"businessStatus": "required"},
        )
    expected = current.get("status") if business == "bounced" else lifecycle.TASK_STATUS[business]
    if task_status != expected:
        raise InvalidInput(
            f"businessStatus {business} goes with Task.status {expected}, not {task_status}",
            fields={"businessStatus": "does not match status"},
        )
    return business


def _business_status(concept: dict | None) -> str | None:
    if not concept:
        return None
    try:
        code = codes.code_in(concept, "referral-business-status")
    except ValueError as exc:
        raise BadCode(str(exc)) from exc
    if code is None:
        sent = ", ".join(
            f"{str(c.get('system'))[:200]}|{str(c.get('code'))[:100]}"
            for c in (concept.get("coding") or [])[:5]
            if isinstance(c, dict)
        )
        raise BadCode(
            f"businessStatus {sent or '(no coding)'} is not coded in "
            f"{codes.system('referral-business-status')} nor in the provider's code map"
        )
    return code


def _reason(concept: dict | None, target: str | None) -> str | None:
    if not concept:
        return None
    system = {"declined": "decline-reason", "bounced": "bounce-reason"}.get(target or "")
    try:
        code = codes.code_in(concept, system) if system else None
    except ValueError as exc:
        raise BadCode(str(exc)) from exc
    if code:
        return code
    text = concept.get("text") or next(
        (c.get("display") or c.get("code") for c in concept.get("coding", [])), None
    )
    return (text or "").strip()[:300] or None


def _outputs(outputs: list[dict]) -> dict:
    found: dict = {}
    for output in outputs:
        try:
            kind = codes.code_in(output.get("type"), "task-output-type")
        except ValueError as exc:
            raise BadCode(str(exc)) from exc
        if kind is None:
            raise BadCode(f"Task.output.type must be coded in {codes.system('task-output-type')}")
        found[kind] = _output_value(kind, output)
    return found


def _output_value(kind: str, output: dict):
    if kind == "appointment":
        value = output.get("valueDateTime")
        moment = _moment(value)
        if moment is None:
            raise InvalidInput(
                "the appointment output needs a valueDateTime with a time and zone",
                fields={"output": "appointment"},
            )
        return moment
    reference = output.get("valueReference") or {}
    value = output.get("valueString") or reference.get("display") or reference.get("reference")
    if not value:
        raise InvalidInput(
            "redirected-to needs a valueString or valueReference", fields={"output": kind}
        )
    return value


def _moment(value) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None or len(value) < 16:
        return None
    return moment


def _provider_ref(incoming: dict, current: dict) -> dict | None:
    """The FILL identifier the provider wrote, if any; the PLAC one must stay as it was."""
    placer = [i for i in current.get("identifier", []) if _type(i) == "PLAC"]
    sent = incoming.get("identifier") or []
    if [i for i in sent if _type(i) == "PLAC"] != placer:
        raise InvalidInput(
            "the PLAC identifier cannot change", fields={"identifier": "cannot change"}
        )
    fillers = [i for i in sent if _type(i) == "FILL"]
    if len(fillers) + len(placer) != len(sent) or len(fillers) > 1:
        raise InvalidInput(
            "identifiers: the PLAC one as sent, and at most one FILL identifier",
            fields={"identifier": "invalid"},
        )
    if not fillers:
        return None
    filler = fillers[0]
    if not filler.get("value") or len(filler["value"]) > 200:
        raise InvalidInput("the FILL identifier needs a value", fields={"identifier": "value"})
    ref = {"value": filler["value"]}
    if filler.get("system"):
        ref["system"] = filler["system"][:300]
    return ref


def _type(identifier: dict) -> str | None:
    for coding in (identifier.get("type") or {}).get("coding", []):
        if coding.get("system") == codes.V2_0203:
            return coding.get("code")
    return None
