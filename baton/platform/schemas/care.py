import marshmallow as ma

from baton.platform.schemas.base import DumpSchema, LoadSchema, one_of, text
from baton.platform.services.consent import METHODS, SHARE_CLASSES, is_active
from baton.platform.services.crisis import ACTIONS as CRISIS_ACTIONS
from baton.platform.services.crisis import ROLES as CRISIS_ROLES
from baton.platform.services.navigation import (
    BARRIERS,
    ESCALATION_KINDS,
    RESOLUTIONS,
    SUPPORTS,
)
from baton.platform.services.providers import MAX_MILES, SORTS
from baton.platform.services.triage import SOURCES


class ConcernCreateSchema(LoadSchema):
    source = one_of(SOURCES, required=True)
    summary = text(500, load_default=None, allow_none=True)
    answers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Boolean(), required=True)
    high_need_answers = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Boolean(), required=True
    )


class ConcernSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    student_id = ma.fields.UUID()
    source = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    checklist_version = ma.fields.Integer()
    answers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Boolean())
    high_need_answers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Boolean())
    tier = ma.fields.String()
    high_need = ma.fields.Boolean()
    high_need_reasons = ma.fields.List(ma.fields.String())
    recorded_at = ma.fields.DateTime()


class ConsentCreateSchema(LoadSchema):
    student_id = ma.fields.UUID(required=True)
    provider_id = ma.fields.UUID(required=True)
    consenter = one_of(("caregiver", "student"), required=True)
    caregiver_id = ma.fields.UUID(load_default=None, allow_none=True)
    share_classes = ma.fields.List(one_of(SHARE_CLASSES), required=True)
    method = one_of(METHODS, required=True)
    witness = text(200, load_default=None, allow_none=True)
    expires_on = ma.fields.Date(load_default=None, allow_none=True)


class ConsentSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    student_id = ma.fields.UUID()
    provider_id = ma.fields.UUID()
    consenter = ma.fields.String()
    caregiver_id = ma.fields.UUID(allow_none=True)
    share_classes = ma.fields.List(ma.fields.String())
    method = ma.fields.String()
    witness = ma.fields.String(allow_none=True)
    obtained_at = ma.fields.DateTime()
    expires_on = ma.fields.Date(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    active = ma.fields.Method("_active")

    def _active(self, consent) -> bool:
        return is_active(consent)


class RevokeSchema(LoadSchema):
    reason = text(300, load_default=None, allow_none=True)


class BarrierCreateSchema(LoadSchema):
    kind = one_of(BARRIERS, required=True)
    support = one_of(SUPPORTS, load_default=None, allow_none=True)


class BarrierSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    referral_id = ma.fields.UUID()
    kind = ma.fields.String()
    support = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    recorded_at = ma.fields.DateTime()


class EscalationCreateSchema(LoadSchema):
    reason = text(300, load_default=None, allow_none=True)


class EscalationCloseSchema(LoadSchema):
    resolution = one_of(RESOLUTIONS, required=True)
    note = text(300, load_default=None, allow_none=True)


class EscalationSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    referral_id = ma.fields.UUID()
    kind = one_of(ESCALATION_KINDS)
    reason = ma.fields.String(allow_none=True)
    assigned_to = ma.fields.UUID(allow_none=True)
    status = ma.fields.String()
    opened_at = ma.fields.DateTime()
    resolution = ma.fields.String(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)


class EscalationQueryArgs(LoadSchema):
    status = one_of(("open", "closed"), load_default="open")


class ServiceQueryArgs(LoadSchema):
    language = text(16, load_default=None)
    modality = text(16, load_default=None)
    insurance = text(16, load_default=None)
    service_type = text(40, load_default=None)
    max_wait_days = ma.fields.Integer(
        load_default=None, validate=ma.validate.Range(min=0, max=3650)
    )
    near_school_id = ma.fields.UUID(
        load_default=None, metadata={"description": "Measure distances from this school"}
    )
    within_miles = ma.fields.Float(
        load_default=None,
        validate=ma.validate.Range(min=0, min_inclusive=False, max=MAX_MILES),
        metadata={"description": "Needs near_school_id; telehealth and on-campus stay listed"},
    )
    sort = one_of(SORTS, load_default="wait")


class DirectoryServiceSchema(DumpSchema):
    id = ma.fields.UUID()
    provider_id = ma.fields.UUID()
    provider_name = ma.fields.String()
    name = ma.fields.String()
    service_type = ma.fields.String()
    min_age = ma.fields.Integer()
    max_age = ma.fields.Integer()
    languages = ma.fields.List(ma.fields.String())
    modalities = ma.fields.List(ma.fields.String())
    insurance_accepted = ma.fields.List(ma.fields.String())
    capacity = ma.fields.Integer()
    current_wait_days = ma.fields.Integer()
    intake_route = ma.fields.String()
    site_address = ma.fields.String(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    distance_miles = ma.fields.Float(
        allow_none=True,
        metadata={"description": "From near_school_id; null without it or without a site"},
    )


class SchoolSchema(DumpSchema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    code = ma.fields.String()
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)


class SchoolLocationSchema(LoadSchema):
    """Both keys, each a number or null (both null: no location). Ranges are the service's."""

    latitude = ma.fields.Float(required=True, allow_none=True)
    longitude = ma.fields.Float(required=True, allow_none=True)


class CrisisStepSchema(DumpSchema):
    at = ma.fields.String()
    action = ma.fields.String()
    role = ma.fields.String()
    by = ma.fields.String()
    note = ma.fields.String()


class CrisisSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    student_id = ma.fields.UUID()
    concern_id = ma.fields.UUID()
    opened_at = ma.fields.DateTime()
    steps = ma.fields.List(ma.fields.Nested(CrisisStepSchema))
    caregiver_notified_at = ma.fields.DateTime(allow_none=True)
    return_to_school_plan = ma.fields.String(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)


class CrisisStepCreateSchema(LoadSchema):
    action = one_of(CRISIS_ACTIONS, required=True)
    role = one_of(CRISIS_ROLES, required=True)
    note = text(300, load_default=None, allow_none=True)


class CrisisCloseSchema(LoadSchema):
    return_to_school_plan = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=1000)
    )


class ChecklistQuestionSchema(LoadSchema):
    key = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))
    routes_to = one_of(("A", "B", "C"), required=True)


class ChecklistCriterionSchema(LoadSchema):
    key = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))


class ChecklistCreateSchema(LoadSchema):
    questions = ma.fields.List(
        ma.fields.Nested(ChecklistQuestionSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=50),
    )
    high_need_criteria = ma.fields.List(
        ma.fields.Nested(ChecklistCriterionSchema),
        required=True,
        validate=ma.validate.Length(max=50),
    )


class ChecklistSchema(DumpSchema):
    version = ma.fields.Integer()
    questions = ma.fields.List(ma.fields.Dict())
    high_need_criteria = ma.fields.List(ma.fields.Dict())
    created_at = ma.fields.DateTime()


class SettingsSchema(DumpSchema):
    contact_standard_hours = ma.fields.Integer()
    high_need_schedule_days = ma.fields.Integer()
    bounce_after_days = ma.fields.Integer()
    day1_attempts = ma.fields.Integer()
    day2_attempts = ma.fields.Integer()
    count_weekends = ma.fields.Boolean()
    student_may_consent = ma.fields.Boolean()
    designated_lead_id = ma.fields.UUID(allow_none=True)


class SettingsUpdateSchema(LoadSchema):
    contact_standard_hours = ma.fields.Integer(validate=ma.validate.Range(min=1, max=168))
    high_need_schedule_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=60))
    bounce_after_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=14))
    day1_attempts = ma.fields.Integer(validate=ma.validate.Range(min=0, max=10))
    day2_attempts = ma.fields.Integer(validate=ma.validate.Range(min=0, max=10))
    count_weekends = ma.fields.Boolean()
    student_may_consent = ma.fields.Boolean()
    designated_lead_id = ma.fields.UUID(allow_none=True)
