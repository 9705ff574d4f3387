"""A provider admin's services and where each is seen (the directory's distances use it)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from baton.platform.admin_forms import ServiceSiteForm
from baton.platform.auth import login_required
from baton.platform.errors import InvalidInput, NotFound
from baton.platform.extensions import db
from baton.platform.services import providers
from baton.platform.views.forms_util import attach, uuid_or_none

services_bp = Blueprint("services", __name__, url_prefix="/services")


def _form(service) -> ServiceSiteForm:
    return ServiceSiteForm(
        prefix=f"s{service.id.hex[:8]}",
        formdata=None,
        data={
            "service_id": str(service.id),
            "site_address": service.site_address or "",
            "latitude": "" if service.latitude is None else f"{service.latitude:g}",
            "longitude": "" if service.longitude is None else f"{service.longitude:g}",
        },
    )


def _page(status=200, failed=None):
    services = providers.own_services()
    forms = {s.id: _form(s) for s in services}
    if failed is not None:
        forms[failed[0]] = failed[1]
    page = render_template(
        "provider/services.html", services=services, forms=forms, done=request.args.get("done")
    )
    return page, status


@services_bp.get("")
@login_required("services.manage")
def index():
    return _page()


@services_bp.post("/site")
@login_required("services.manage")
def set_site():
    # The service id travels in the form (with each form's prefix): services are not
    # tenant rows, and set_service_site refuses another provider's.
    prefix = next((k.split("-")[0] for k in request.form if k.endswith("-service_id")), "")
    form = ServiceSiteForm(prefix=prefix)
    service_id = uuid_or_none(form.service_id.data)
    if service_id not in {s.id for s in providers.own_services()}:
        raise NotFound("No such service")
    if not form.validate_on_submit():
        return _page(422, (service_id, form))
    try:
        providers.set_service_site(
            service_id,
            site_address=form.site_address.data,
            latitude=form.latitude.data,
            longitude=form.longitude.data,
        )
    except InvalidInput as exc:
        db.session.rollback()
        attach(form, exc)
        return _page(422, (service_id, form))
    return redirect(url_for("provider.services.index", done="site"))
