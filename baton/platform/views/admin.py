"""District administration and the audit log (the full admin arrives with the UI issue)."""

from flask import Blueprint, render_template

from baton.platform.auth import login_required
from baton.platform.services import directory
from baton.platform.services.students import list_schools

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("")
@login_required("admin.manage")
def index():
    return render_template(
        "admin/index.html",
        schools=list_schools(),
        partnerships=directory.district_partnerships(),
        members=directory.district_members(),
    )


@bp.get("/audit")
@login_required("audit.read")
def audit_log():
    return render_template("admin/audit.html", rows=directory.recent_audit())
