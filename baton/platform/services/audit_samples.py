"""The quarterly audit sample: draw cases reproducibly, pre-check them against the rubric
from the data, and keep the auditor's findings.

A case-level audit for the district's own auditors: unlike the metrics it reads tenant rows
(referrals, events, consents, escalations, triage answers, crisis records), each case's read
written to the audit log. The rubric itself is in ``audit_rubric``.
"""

from __future__ import annotations

import math
import random
import re
import secrets
import uuid
from datetime import UTC, date, datetime, time

from sqlalchemy import select

from baton.platform.errors import Conflict, InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import AuditCase, AuditSample, CrisisRecord, Referral
from baton.platform.models.base import utcnow
from baton.platform.services import audit_rubric
from baton.platform.services.audit import record_audit
from baton.platform.services.common import require_permission, user_id
from baton.tenants.scoping import access, scoped

QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
MIN_SIZE, MAX_SIZE = 10, 20
MAX_SEED = 2**31
STRATA = ("crisis", "high-need", "other")  # drawn in this order
FINDINGS = ("confirmed", "disputed", "defect")


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """[start, end) of ``YYYY-Qn`` in UTC; InvalidInput for anything else."""
    match = QUARTER.match((quarter or "").strip())
    if not match or not 2000 <= int(match.group(1)) <= 2100:
        raise InvalidInput(fields={"quarter": "a quarter such as 2026-Q3"})
    year, q = int(match.group(1)), int(match.group(2))
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return datetime.combine(start, time(), UTC), datetime.combine(end, time(), UTC)


def current_quarter(today: date) -> str:
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def pick(population: list[list[str]], seed: int, size: int) -> list[list[str]]:
    """The cases drawn from ``population`` ([id, stratum] pairs in a fixed order): a pure
    function of its arguments, so a stored sample can be drawn again and compared.

    Stratified: up to max(2, size // 5) crisis records, up to ceil(size / 4) high-need
    referrals, the rest from other referrals; a stratum short of cases leaves its places to
    the others (in STRATA order). Each stratum is sampled with ``random.Random(seed)``."""
    rng = random.Random(seed)
    pools = {s: [p for p in population if p[1] == s] for s in STRATA}
    quotas = {"crisis": max(2, size // 5), "high-need": math.ceil(size / 4)}
    quotas["other"] = size - quotas["crisis"] - quotas["high-need"]
    chosen = {s: rng.sample(pools[s], min(quotas[s], len(pools[s]))) for s in STRATA}
    short = size - sum(len(c) for c in chosen.values())
    for stratum in STRATA:
        left = [p for p in pools[stratum] if p not in chosen[stratum]]
        extra = rng.sample(left, min(short, len(left)))
        chosen[stratum] += extra
        short -= len(extra)
    return [case for stratum in STRATA for case in chosen[stratum]]


def draw_sample(quarter: str, *, size: int = 15, seed: int | None = None) -> AuditSample:
    """Draw ``size`` (10-20) cases of ``quarter`` (referrals sent and crisis records opened in
    it), pre-check each against the rubric, and keep the sample. Raises InvalidInput for a
    bad quarter or size, Conflict when the quarter has no cases."""
    principal = require_permission("audit.sample")
    start, end = quarter_bounds(quarter)
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidInput(fields={"size": f"between {MIN_SIZE} and {MAX_SIZE} cases"})
    seed = secrets.randbelow(MAX_SEED) if seed is None else seed
    if not isinstance(seed, int) or not 0 <= seed < MAX_SEED:  # the column is 32-bit
        raise InvalidInput(fields={"seed": f"a whole number below {MAX_SEED}"})
    population = _population(start, end)
    if not population:
        raise Conflict(f"No referrals were sent and no crisis opened in {quarter}")
    sample = AuditSample(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        quarter=quarter.strip(),
        seed=seed,
        size=size,
        population=population,
        strata={},
        drawn_by=user_id(),
    )
    cases = pick(population, seed, size)
    sample.strata = {s: sum(1 for c in cases if c[1] == s) for s in STRATA}
    db.session.add(sample)
    for position, (case_id, stratum) in enumerate(cases, start=1):
        db.session.add(_precheck(sample, position, uuid.UUID(case_id), stratum))
    record_audit("create", "audit-sample", sample.id, detail={"quarter": quarter, "seed": seed})
    db.session.flush()
    return sample


def _population(start: datetime, end: datetime) -> list[list[str]]:
    referrals = db.session.execute(
        scoped(Referral)
        .with_only_columns(Referral.id, Referral.high_need)
        .where(
            Referral.sent_at >= start,
            Referral.sent_at < end,
            Referral.status != "entered-in-error",
        )
        .order_by(Referral.id)
    ).all()
    crises = db.session.scalars(
        scoped(CrisisRecord)
        .with_only_columns(CrisisRecord.id)
        .where(CrisisRecord.opened_at >= start, CrisisRecord.opened_at < end)
        .order_by(CrisisRecord.id)
    ).all()
    return [[str(c), "crisis"] for c in crises] + [
        [str(r), "high-need" if high else "other"] for r, high in referrals
    ]


def _precheck(sample: AuditSample, position: int, case_id: uuid.UUID, stratum: str) -> AuditCase:
    if stratum == "crisis":
        crisis = access(db.session, CrisisRecord, case_id)
        checks = audit_rubric.check_crisis(crisis)
        record_audit("read", "crisis", crisis.id, detail={"audit_sample": str(sample.id)})
        ids = {"crisis_id": crisis.id}
    else:
        referral = access(db.session, Referral, case_id)
        checks = audit_rubric.check_referral(referral)
        detail = {"audit_sample": str(sample.id), "student_id": str(referral.student_id)}
        record_audit("read", "referral", referral.id, detail=detail)
        ids = {"referral_id": referral.id}
    return AuditCase(
        tenant_id=sample.tenant_id,
        sample_id=sample.id,
        position=position,
        stratum=stratum,
        checks=checks,
        **ids,
    )


def list_samples() -> list[AuditSample]:
    require_permission("audit.sample")
    return db.session.scalars(scoped(AuditSample).order_by(AuditSample.drawn_at.desc())).all()


def access_sample(sample_id) -> tuple[AuditSample, list[AuditCase]]:
    """A sample of the caller's district and its cases in drawn order (404 otherwise)."""
    require_permission("audit.sample")
    sample = access(db.session, AuditSample, sample_id)
    if sample is None:
        raise NotFound("No such audit sample")
    cases = db.session.scalars(
        scoped(AuditCase).where(AuditCase.sample_id == sample.id).order_by(AuditCase.position)
    ).all()
    record_audit("read", "audit-sample", sample.id)
    return sample, cases


def record_finding(case_id, *, finding: str, notes: str | None = None) -> AuditCase:
    """The auditor's finding on one case (confirmed, disputed, defect) with notes; the sample
    completes when every case has one. Raises InvalidInput for an unknown finding."""
    require_permission("audit.sample")
    case = access(db.session, AuditCase, case_id)
    if case is None:
        raise NotFound("No such audit case")
    if finding not in FINDINGS:
        raise InvalidInput(fields={"finding": f"one of {', '.join(FINDINGS)}"})
    case.finding = finding
    case.notes = (notes or "").strip()[:1000] or None
    case.reviewed_by = user_id()
    case.reviewed_at = utcnow()
    record_audit("update", "audit-case", case.id, detail={"finding": finding})
    db.session.flush()
    sample = access(db.session, AuditSample, case.sample_id)
    open_cases = db.session.scalars(
        select(AuditCase.id).where(
            AuditCase.tenant_id == sample.tenant_id,
            AuditCase.sample_id == sample.id,
            AuditCase.finding.is_(None),
        )
    ).first()
    sample.completed_at = None if open_cases else (sample.completed_at or utcnow())
    return case
