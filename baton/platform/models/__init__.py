"""All models, imported here so Alembic and the app see one metadata."""

from baton.platform.models.api import IdempotencyRecord
from baton.platform.models.audit import AuditLog
from baton.platform.models.audit_samples import AuditCase, AuditSample
from baton.platform.models.care import (
    Barrier,
    Bounce,
    Concern,
    Consent,
    ContactAttempt,
    CrisisRecord,
    Escalation,
    ServiceLog,
    TriageChecklist,
)
from baton.platform.models.cohorts import (
    CaseRollup,
    CohortRollup,
    CountyCaseRollup,
    CountyCohortRollup,
    CountyDurationRollup,
    DurationRollup,
    ReferralFact,
)
from baton.platform.models.fhir import (
    FhirCodeMapping,
    FhirEndpoint,
    FhirMessage,
    PushedTask,
    QuarantinedChange,
    Subscription,
)
from baton.platform.models.links import StatusLink
from baton.platform.models.notifications import Notification
from baton.platform.models.orgs import County, Partnership, ProviderOrg, School, Service, Tenant
from baton.platform.models.people import Membership, User
from baton.platform.models.referrals import Referral, ReferralEvent
from baton.platform.models.rollups import CountyRollup, DistrictRollup, RollupWatermark
from baton.platform.models.settings import TenantSettings
from baton.platform.models.students import Caregiver, Student
from baton.platform.oauth.models import (
    OAuthAuthorizationCode,
    OAuthClient,
    OAuthToken,
    UsedAssertion,
)

__all__ = [
    "AuditCase",
    "AuditSample",
    "CaseRollup",
    "CohortRollup",
    "CountyCaseRollup",
    "CountyCohortRollup",
    "CountyDurationRollup",
    "DurationRollup",
    "ReferralFact",
    "AuditLog",
    "Barrier",
    "Bounce",
    "Concern",
    "Consent",
    "ContactAttempt",
    "CountyRollup",
    "CrisisRecord",
    "DistrictRollup",
    "Escalation",
    "FhirCodeMapping",
    "FhirEndpoint",
    "FhirMessage",
    "PushedTask",
    "QuarantinedChange",
    "Subscription",
    "IdempotencyRecord",
    "Referral",
    "ReferralEvent",
    "RollupWatermark",
    "ServiceLog",
    "StatusLink",
    "TenantSettings",
    "TriageChecklist",
    "Caregiver",
    "County",
    "Membership",
    "Notification",
    "OAuthAuthorizationCode",
    "OAuthClient",
    "OAuthToken",
    "UsedAssertion",
    "Partnership",
    "ProviderOrg",
    "School",
    "Service",
    "Student",
    "Tenant",
    "User",
]
