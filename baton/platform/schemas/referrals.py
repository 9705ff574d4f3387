import marshmallow as ma
from marshmallow import validate

from baton.platform import lifecycle
from baton.platform.models.students import CONTACT_CHANNELS
from baton.platform.schemas.base import DumpSchema, LoadSchema, one_of, text
from baton.platform.services.contact import OUTCOMES


class ReferralCreateSchema(LoadSchema):
    student_id = ma.fields.UUID(required=True)
    concern_id = ma.fields.UUID(required=True)
    provider_id = ma.fields.UUID(required=True)
    service_id = ma.fields.UUID(load_default=None, allow_none=True)
    reason_text = text(500, load_default=None, allow_none=True)
    caregiver_present = ma.fields.Boolean(load_default=False)
    send = ma.fields.Boolean(load_default=True)


class ReferralSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    student_id = ma.fields.UUID()
    concern_id = ma.fields.UUID(allow_none=True)
    provider_id = ma.fields.UUID()
    service_id = ma.fields.UUID(allow_none=True)
    consent_id = ma.fields.UUID(allow_none=True)
    status = ma.fields.String()
    task_status = ma.fields.Method("_task_status")
    tier = ma.fields.String()
    high_need = ma.fields.Boolean()
    reason_text = ma.fields.String(allow_none=True)
    intake_route = ma.fields.String()
    caregiver_present = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)
    received_at = ma.fields.DateTime(allow_none=True)
    contact_confirmed_at = ma.fields.DateTime(allow_none=True)
    appointment_at = ma.fields.DateTime(allow_none=True)
    appointment_place = ma.fields.String(allow_none=True)
    appointment_link = ma.fields.String(allow_none=True)
    decline_reason = ma.fields.String(allow_none=True)
    redirected_to = ma.fields.String(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    contact_due_at = ma.fields.DateTime(allow_none=True)
    schedule_due_at = ma.fields.DateTime(allow_none=True)
    bounce_due_at = ma.fields.DateTime(allow_none=True)
    next_due_at = ma.fields.DateTime(allow_none=True)
    version = ma.fields.Integer()

    def _task_status(self, referral) -> str | None:
        return lifecycle.TASK_STATUS.get(referral.status)


class ReferralPageSchema(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(ReferralSchema))
    next_cursor = ma.fields.String(allow_none=True)


class ReferralQueryArgs(LoadSchema):
    status = one_of(lifecycle.STATUSES, load_default=None)
    school_id = ma.fields.UUID(load_default=None)
    provider_id = ma.fields.UUID(load_default=None)
    student_id = ma.fields.UUID(load_default=None)
    tier = one_of(("A", "B"), load_default=None)
    high_need = ma.fields.Boolean(load_default=None)
    overdue = ma.fields.Boolean(load_default=None)
    cursor = text(200, load_default=None)
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TransitionSchema(LoadSchema):
    status = one_of(lifecycle.STATUSES, required=True)
    reason = text(300, load_default=None, allow_none=True)
    appointment_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    appointment_place = text(300, load_default=None, allow_none=True)
    appointment_link = ma.fields.URL(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )
    what_to_bring = text(500, load_default=None, allow_none=True)
    family_contact = text(200, load_default=None, allow_none=True)
    redirected_to = text(300, load_default=None, allow_none=True)


class EventSchema(DumpSchema):
    seq = ma.fields.Integer()
    at = ma.fields.DateTime()
    actor_user_id = ma.fields.UUID(allow_none=True)
    actor_kind = ma.fields.String()
    surface = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    detail = ma.fields.Dict()


class AttemptCreateSchema(LoadSchema):
    caregiver_id = ma.fields.UUID(required=True)
    channel = one_of(CONTACT_CHANNELS, required=True)
    outcome = one_of(OUTCOMES, required=True)


class AttemptSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    referral_id = ma.fields.UUID()
    caregiver_id = ma.fields.UUID(allow_none=True)
    channel = ma.fields.String()
    outcome = ma.fields.String()
    at = ma.fields.DateTime()
    actor_kind = ma.fields.String()


class BounceCreateSchema(LoadSchema):
    reason = one_of(lifecycle.BOUNCE_REASONS, required=True)
    next_action = text(300, load_default=None, allow_none=True)


class BounceSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    referral_id = ma.fields.UUID()
    reason = ma.fields.String()
    suggested_fix = ma.fields.String()
    next_action = ma.fields.String()
    next_action_due_at = ma.fields.DateTime(allow_none=True)
    at = ma.fields.DateTime()
    resolved_at = ma.fields.DateTime(allow_none=True)


class FamilyPlanSchema(DumpSchema):
    language = ma.fields.String()
    student_first_name = ma.fields.String()
    provider_name = ma.fields.String()
    appointment_at = ma.fields.DateTime(allow_none=True)
    place = ma.fields.String(allow_none=True)
    link = ma.fields.String(allow_none=True)
    what_to_bring = ma.fields.String(allow_none=True)
    who_to_call = ma.fields.String(allow_none=True)
