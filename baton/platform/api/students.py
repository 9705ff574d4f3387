"""Students, caregivers and service logs."""

from baton.platform.api import PREFIX
from baton.platform.api.auth import authenticate_api_request
from baton.platform.api.blueprint import Blueprint
from baton.platform.api.http import idempotent
from baton.platform.schemas.students import (
    CaregiverCreateSchema,
    CaregiverSchema,
    ServiceLogCreateSchema,
    ServiceLogSchema,
    StudentCreateSchema,
    StudentPageSchema,
    StudentQueryArgs,
    StudentSchema,
)
from baton.platform.services import navigation
from baton.platform.services import students as svc

blp = Blueprint(
    "api_students",
    __name__,
    url_prefix=f"{PREFIX}/students",
    description="Students and their caregivers",
)
blp.before_request(authenticate_api_request)


@blp.get("")
@blp.arguments(StudentQueryArgs, location="query")
@blp.response(200, StudentPageSchema)
def list_students(args):
    page = svc.list_students(query=args["q"], school_id=args["school_id"], page=args["page"])
    return {"items": page.students, "total": page.total, "page": page.page, "pages": page.pages}


@blp.post("")
@blp.arguments(StudentCreateSchema)
@blp.response(201, StudentSchema)
@idempotent
def create_student(data):
    return svc.create_student(**data)


@blp.get("/<uuid:student_id>")
@blp.response(200, StudentSchema)
def get_student(student_id):
    return svc.access_student(student_id)


@blp.get("/<uuid:student_id>/caregivers")
@blp.response(200, CaregiverSchema(many=True))
def list_caregivers(student_id):
    return svc.access_student(student_id).caregivers


@blp.post("/<uuid:student_id>/caregivers")
@blp.arguments(CaregiverCreateSchema)
@blp.response(201, CaregiverSchema)
@idempotent
def add_caregiver(data, student_id):
    return svc.add_caregiver(student_id, **data)


@blp.post("/<uuid:student_id>/service-logs")
@blp.arguments(ServiceLogCreateSchema)
@blp.response(201, ServiceLogSchema)
@idempotent
def log_service(data, student_id):
    return navigation.log_service(student_id, **data)
