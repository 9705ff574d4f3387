"""Students and their caregivers: the minimal record product.md step 1 asks for."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from baton.platform.extensions import db
from baton.platform.models.base import timestamp, utcnow, uuid_pk
from baton.tenants.scoping import TenantKeyed

GRADES = ("PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
CONTACT_CHANNELS = ("phone", "sms", "email", "letter", "in-person")


class Student(TenantKeyed, db.Model):
    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("tenant_id", "local_id"),
        ForeignKeyConstraint(["tenant_id", "school_id"], ["schools.tenant_id", "schools.id"]),
        Index(None, "tenant_id", "school_id"),
        Index(None, "tenant_id", "last_name", "first_name"),
    )

    id: Mapped[uuid_pk]
    local_id: Mapped[str] = mapped_column(String(64))  # the district's own student number
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date]
    grade: Mapped[str] = mapped_column(String(4))
    school_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    preferred_language: Mapped[str] = mapped_column(String(16), default="en")
    disability_or_iep: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[timestamp]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    school = relationship(
        "School",
        primaryjoin="and_(School.tenant_id == foreign(Student.tenant_id),"
        " School.id == foreign(Student.school_id))",
        viewonly=True,
    )
    caregivers: Mapped[list[Caregiver]] = relationship(
        back_populates="student", order_by="Caregiver.created_at", viewonly=True
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Caregiver(TenantKeyed, db.Model):
    """A caregiver and how it is safe to reach them (channels, times, do-not-call flags)."""

    __tablename__ = "caregivers"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "student_id"], ["students.tenant_id", "students.id"]),
        Index(None, "tenant_id", "student_id"),
    )

    id: Mapped[uuid_pk]
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    relationship_to_student: Mapped[str] = mapped_column(String(40), default="parent")
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    preferred_language: Mapped[str] = mapped_column(String(16), default="en")
    allowed_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    safe_times: Mapped[str | None] = mapped_column(String(200))
    do_not_call: Mapped[bool] = mapped_column(default=False)
    no_voicemail: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[timestamp]

    student: Mapped[Student] = relationship(
        back_populates="caregivers",
        primaryjoin="and_(Student.tenant_id == foreign(Caregiver.tenant_id),"
        " Student.id == foreign(Caregiver.student_id))",
        viewonly=True,
    )
