"""Reading and recording students and caregivers. Every read or change is audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.models import Caregiver, School, Student
from baton.platform.models.students import CONTACT_CHANNELS, GRADES
from baton.platform.services.audit import record_audit, record_list_read
from baton.platform.services.common import require_permission
from baton.tenants.scoping import access, scoped

PAGE_SIZE = 50


def access_student(student_id: uuid.UUID | str, *, audit: bool = True) -> Student:
    """Load a student the caller may see, auditing the read. Foreign and missing both 404."""
    require_permission("student.read")
    student = access(db.session, Student, student_id)
    if student is None:
        raise NotFound("No such student")
    if audit:
        record_audit("read", "student", student.id, tenant_id=student.tenant_id)
    return student


@dataclass
class StudentPage:
    students: list[Student]
    total: int
    page: int
    pages: int


def list_students(
    *, query: str = "", school_id: uuid.UUID | None = None, page: int = 1
) -> StudentPage:
    """A page of students for the caller, optionally searched by name or local id; audited."""
    require_permission("student.read")
    stmt = scoped(Student)
    if query:
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Student.first_name).like(like),
                func.lower(Student.last_name).like(like),
                func.lower(Student.local_id).like(like),
            )
        )
    if school_id:
        stmt = stmt.where(Student.school_id == school_id)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        stmt.order_by(Student.last_name, Student.first_name, Student.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    record_list_read("student", rows)
    return StudentPage(rows, total, page, pages)


def list_schools() -> list[School]:
    return db.session.scalars(scoped(School).order_by(School.name)).all()


def create_student(
    *,
    local_id: str,
    first_name: str,
    last_name: str,
    birth_date: date,
    grade: str,
    school_id: uuid.UUID,
    preferred_language: str = "en",
    disability_or_iep: bool = False,
) -> Student:
    """Record a student in the caller's district. Raises InvalidInput with field messages."""
    require_permission("student.write")
    errors = _check_student(local_id, first_name, last_name, birth_date, grade, school_id)
    if errors:
        raise InvalidInput(fields=errors)
    student = Student(
        local_id=local_id.strip(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        birth_date=birth_date,
        grade=grade,
        school_id=school_id,
        preferred_language=(preferred_language or "en").strip().lower(),
        disability_or_iep=bool(disability_or_iep),
    )
    db.session.add(student)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise InvalidInput(fields={"local_id": "already used for another student"}) from exc
    record_audit("create", "student", student.id, tenant_id=student.tenant_id)
    return student


def _check_student(local_id, first_name, last_name, birth_date, grade, school_id) -> dict:
    errors = {}
    for field, value in (
        ("local_id", local_id),
        ("first_name", first_name),
        ("last_name", last_name),
    ):
        if not (value or "").strip():
            errors[field] = "required"
    if birth_date is None or not date(1990, 1, 1) <= birth_date <= date.today():
        errors["birth_date"] = "a date of birth in the past is required"
    if grade not in GRADES:
        errors["grade"] = f"one of {', '.join(GRADES)}"
    if school_id is None or access(db.session, School, school_id) is None:
        errors["school_id"] = "choose one of your district's schools"
    return errors


def add_caregiver(
    student_id: uuid.UUID,
    *,
    name: str,
    relationship_to_student: str = "parent",
    phone: str | None = None,
    email: str | None = None,
    preferred_language: str = "en",
    allowed_channels: list[str] | None = None,
    safe_times: str | None = None,
    do_not_call: bool = False,
    no_voicemail: bool = False,
) -> Caregiver:
    """Add a caregiver and their safe-contact preferences to a student the caller may see."""
    require_permission("student.write")
    student = access_student(student_id, audit=False)
    channels = list(allowed_channels or [])
    errors = {}
    if not (name or "").strip():
        errors["name"] = "required"
    if set(channels) - set(CONTACT_CHANNELS):
        errors["allowed_channels"] = f"choose from {', '.join(CONTACT_CHANNELS)}"
    if do_not_call and "phone" in channels:
        errors["allowed_channels"] = "phone cannot be allowed when 'do not call' is set"
    if errors:
        raise InvalidInput(fields=errors)
    caregiver = Caregiver(
        tenant_id=student.tenant_id,
        student_id=student.id,
        name=name.strip(),
        relationship_to_student=relationship_to_student,
        phone=phone or None,
        email=email or None,
        preferred_language=preferred_language or "en",
        allowed_channels=channels,
        safe_times=safe_times or None,
        do_not_call=do_not_call,
        no_voicemail=no_voicemail,
    )
    db.session.add(caregiver)
    db.session.flush()
    record_audit(
        "create",
        "caregiver",
        caregiver.id,
        tenant_id=student.tenant_id,
        detail={"student_id": str(student.id)},
    )
    return caregiver
