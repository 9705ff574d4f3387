import marshmallow as ma
from marshmallow import validate

from baton.platform.models.students import CONTACT_CHANNELS, GRADES
from baton.platform.schemas.base import DumpSchema, LoadSchema, one_of, required_text, text


class StudentSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    local_id = ma.fields.String()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    birth_date = ma.fields.Date()
    grade = ma.fields.String()
    school_id = ma.fields.UUID()
    preferred_language = ma.fields.String()
    disability_or_iep = ma.fields.Boolean()


class StudentCreateSchema(LoadSchema):
    local_id = required_text(64)
    first_name = required_text(100)
    last_name = required_text(100)
    birth_date = ma.fields.Date(required=True)
    grade = one_of(GRADES, required=True)
    school_id = ma.fields.UUID(required=True)
    preferred_language = text(16, load_default="en")
    disability_or_iep = ma.fields.Boolean(load_default=False)


class StudentQueryArgs(LoadSchema):
    q = text(100, load_default="")
    school_id = ma.fields.UUID(load_default=None)
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))


class StudentPageSchema(DumpSchema):
    items = ma.fields.List(ma.fields.Nested(StudentSchema))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    pages = ma.fields.Integer()


class CaregiverSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    student_id = ma.fields.UUID()
    name = ma.fields.String()
    relationship_to_student = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    preferred_language = ma.fields.String()
    allowed_channels = ma.fields.List(ma.fields.String())
    safe_times = ma.fields.String(allow_none=True)
    do_not_call = ma.fields.Boolean()
    no_voicemail = ma.fields.Boolean()


class CaregiverCreateSchema(LoadSchema):
    name = required_text(200)
    relationship_to_student = one_of(
        ("parent", "guardian", "grandparent", "foster", "other"), load_default="parent"
    )
    phone = text(40, load_default=None, allow_none=True)
    email = ma.fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    preferred_language = text(16, load_default="en")
    allowed_channels = ma.fields.List(one_of(CONTACT_CHANNELS), load_default=list)
    safe_times = text(200, load_default=None, allow_none=True)
    do_not_call = ma.fields.Boolean(load_default=False)
    no_voicemail = ma.fields.Boolean(load_default=False)


class ServiceLogSchema(DumpSchema):
    id = ma.fields.UUID(dump_only=True)
    student_id = ma.fields.UUID()
    referral_id = ma.fields.UUID(allow_none=True)
    service_date = ma.fields.Date()
    minutes = ma.fields.Integer()
    units = ma.fields.Integer()
    practitioner = ma.fields.String()
    place_of_service = ma.fields.String()
    plan_ref = ma.fields.String()


class ServiceLogCreateSchema(LoadSchema):
    service_date = ma.fields.Date(required=True)
    minutes = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=480))
    units = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=32))
    practitioner = required_text(200)
    place_of_service = required_text(4)
    plan_ref = required_text(100)
    referral_id = ma.fields.UUID(load_default=None, allow_none=True)
