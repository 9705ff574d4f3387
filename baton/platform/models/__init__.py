"""All models, imported here so Alembic and the app see one metadata."""

from baton.platform.models.audit import AuditLog
from baton.platform.models.orgs import County, Partnership, ProviderOrg, School, Service, Tenant
from baton.platform.models.people import Membership, User
from baton.platform.models.students import Caregiver, Student

__all__ = [
    "AuditLog",
    "Caregiver",
    "County",
    "Membership",
    "Partnership",
    "ProviderOrg",
    "School",
    "Service",
    "Student",
    "Tenant",
    "User",
]
