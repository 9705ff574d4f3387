"""Each provider's map from its EHR's own codes to Baton's (fhir-profile.md §4: "foreign codes
(e.g. BSeR ``5.1.2``) via a per-partner map").

An EHR may send ``Task.businessStatus`` or ``Task.statusReason`` coded in its own system. Its
provider keeps one map, ``system|code = baton-code`` a line; the target decides the element:
a status a provider may set maps a businessStatus, a decline reason maps a statusReason. The
map belongs to the provider organisation, not to one client or endpoint: it has to serve both
its EHR's PUTs to the hosted /fhir (an OAuth client) and the mirror of Tasks Baton pushed to
that EHR (an endpoint, with no client of ours), and codes are namespaced by their system URI,
so one map per organisation covers every system it connects. Provider admins edit their own
organisation's map; the CLI any provider's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, select

from baton.platform import lifecycle
from baton.platform.errors import Forbidden, InvalidInput
from baton.platform.extensions import db
from baton.platform.models import FhirCodeMapping, ProviderOrg
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission
from baton.tenants.context import require_principal

# What a provider's EHR can mean by a foreign code: a status it may move a referral to, or
# the reason of a decline. The two sets share no code, so the target names the element.
BUSINESS_STATUSES = tuple(
    s
    for s in lifecycle.STATUSES
    if any(t == s and lifecycle.PROVIDER in who for (_, t), who in lifecycle.TRANSITIONS.items())
)
REASONS = lifecycle.DECLINE_REASONS
MAX_LINES = 500


class CodeMapInvalid(InvalidInput):
    """Lines of a map that cannot be read; ``problems`` holds one message per bad line."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems), fields={"mappings": "; ".join(problems)})
        self.problems = problems


@dataclass(frozen=True)
class Mapping:
    system: str
    foreign_code: str
    code: str

    @property
    def element(self) -> str:
        return "businessStatus" if self.code in BUSINESS_STATUSES else "statusReason"

    def line(self) -> str:
        return f"{self.system}|{self.foreign_code} = {self.code}"


def parse_map(text: str) -> list[Mapping]:
    """``system|code = baton-code`` lines (blank lines and ``#`` comments skipped). Raises
    CodeMapInvalid naming every line that is not one, maps onto a code Baton does not take
    from an EHR, or maps a code twice."""
    problems: list[str] = []
    found: dict[tuple[str, str], int] = {}
    mappings: list[Mapping] = []
    lines = (text or "").splitlines()
    if len(lines) > MAX_LINES:
        raise CodeMapInvalid([f"at most {MAX_LINES} lines"])
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        mapping, problem = _line(line)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        key = (mapping.system, mapping.foreign_code)
        if key in found:
            problems.append(f"line {number}: {'|'.join(key)} is mapped on line {found[key]} too")
            continue
        found[key] = number
        mappings.append(mapping)
    if problems:
        raise CodeMapInvalid(problems)
    return mappings


def _line(line: str) -> tuple[Mapping | None, str | None]:
    left, equals, target = line.partition("=")
    system, bar, code = left.strip().rpartition("|")
    system, code, target = system.strip(), code.strip(), target.strip()
    if not equals or not bar or not system or not code or not target:
        return None, "write system|code = baton-code"
    if len(system) > 300 or ":" not in system or any(c.isspace() for c in system):
        return None, f"{system!r} is not a code system URI (at most 300 characters)"
    own = current_app.config["FHIR_CANONICAL_BASE"].rstrip("/") + "/"
    if system.startswith(own):
        return None, "Baton's own codes need no mapping"
    if len(code) > 100 or any(c.isspace() for c in code):
        return None, f"{code!r} is not a code (no spaces, at most 100 characters)"
    if target not in BUSINESS_STATUSES and target not in REASONS:
        return None, (
            f"{target!r} is not a status a provider sets or a decline reason (statuses: "
            f"{', '.join(BUSINESS_STATUSES)}; reasons: {', '.join(REASONS)})"
        )
    return Mapping(system, code, target), None


def code_map(provider_id: uuid.UUID) -> list[Mapping]:
    """The provider's map, in a stable order (system, code)."""
    rows = db.session.scalars(
        select(FhirCodeMapping)
        .where(FhirCodeMapping.provider_id == provider_id)
        .order_by(FhirCodeMapping.system, FhirCodeMapping.foreign_code)
    )
    return [Mapping(r.system, r.foreign_code, r.code) for r in rows]


def lookup(provider_id: uuid.UUID) -> dict[tuple[str, str], str]:
    """(system, foreign code) -> Baton code, for translating an inbound Task."""
    return {(m.system, m.foreign_code): m.code for m in code_map(provider_id)}


def as_text(mappings: list[Mapping]) -> str:
    return "\n".join(m.line() for m in mappings)


def set_code_map(provider: ProviderOrg, text: str) -> list[Mapping]:
    """Replace the provider's whole map with the lines of ``text`` (empty: no map). Raises
    CodeMapInvalid, and changes nothing, when any line is bad. Audited."""
    mappings = parse_map(text)
    db.session.execute(delete(FhirCodeMapping).where(FhirCodeMapping.provider_id == provider.id))
    db.session.add_all(
        FhirCodeMapping(
            provider_id=provider.id, system=m.system, foreign_code=m.foreign_code, code=m.code
        )
        for m in mappings
    )
    record_audit("update", "fhir-code-map", provider.id, detail={"lines": len(mappings)})
    db.session.flush()
    return mappings


def _own_provider() -> ProviderOrg:
    principal = require_permission("apps.manage")
    if principal.kind != "provider":
        raise Forbidden("A code map belongs to a provider organisation's EHR")
    return db.session.get(ProviderOrg, principal.provider_id)


def own_code_map() -> list[Mapping]:
    """The acting provider admin's organisation's map."""
    return code_map(_own_provider().id)


def set_own_code_map(text: str) -> list[Mapping]:
    return set_code_map(_own_provider(), text)


def for_acting_provider() -> dict[tuple[str, str], str]:
    """The map of the provider the caller acts for (its EHR's token, or Baton mirroring
    that EHR); empty for anyone else: a district's client sends Baton's own codes."""
    principal = require_principal()
    if principal.kind != "provider" or principal.provider_id is None:
        return {}
    return lookup(principal.provider_id)
