"""The district's governance pages: dashboard, weekly bounce review, monthly governance pack
(printable and CSV), and the quarterly audit samples."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, redirect, render_template, request, url_for

from baton.platform.auth import login_required
from baton.platform.errors import BatonError, InvalidInput, NotFound
from baton.platform.metrics.definitions import FUNNEL_COUNTS, METRICS
from baton.platform.metrics.periods import Month
from baton.platform.models.base import utcnow
from baton.platform.services import audit_samples, metrics
from baton.platform.services.metric_reads import BREAKDOWNS, DISTRICT_BREAKDOWNS

bp = Blueprint("metrics", __name__, url_prefix="/metrics")

HEADLINE = (
    "referrals",
    "connected",
    "first_contact_median",
    "first_appointment_median",
    "no_show_rate",
    "continuity_30d",
    "bounce_rate",
    "escalations_opened",
    "crisis_events",
)
TABLE_METRICS = (
    "referrals",
    "connected",
    "engaged_30d",
    "first_contact_median",
    "first_appointment_p90",
    "no_show_rate",
    "continuity_30d",
    "repeat_rate",
    "bounce_rate",
)


@bp.app_template_filter("metric_value")
def metric_value(v, kind: str) -> str:
    """A metric's value as shown in a cell (a Python filter: a page has hundreds of cells)."""
    if v is None or v.value is None:
        return "—"
    if kind == "rate":
        return f"{v.value * 100:.0f}%"
    if kind == "hours":
        return "> 720 h" if v.value == -1 else f"≤ {v.value} h"
    if kind == "days":
        return "> 90 d" if v.value == -1 else f"≤ {v.value} d"
    return str(v.value)


@bp.app_template_filter("metric_detail")
def metric_detail(v, kind: str) -> str:
    """What a value is taken over: ``3 of 12`` for a rate, ``over 12 referrals`` for a time."""
    if v is None:
        return ""
    if kind == "rate" and v.denominator:
        return f"{v.numerator} of {v.denominator}"
    if kind in ("hours", "days") and v.numerator:
        return f"over {v.numerator} referrals"
    return ""


def _month() -> Month:
    return Month.parse(request.args.get("month"), utcnow().date())


@bp.get("")
@login_required("metrics.read")
def dashboard():
    month = _month()
    breakdown = metrics.check_breakdown(request.args.get("breakdown"))
    figures = metrics.district_figures(month, tuple(dict.fromkeys((breakdown, "provider"))))
    return render_template(
        "metrics/dashboard.html",
        figures=figures,
        part=figures.breakdowns[breakdown],
        breakdown=breakdown,
        breakdowns=[(k, BREAKDOWNS[k][1]) for k in DISTRICT_BREAKDOWNS],
        metrics=METRICS,
        headline=HEADLINE,
        table_metrics=TABLE_METRICS,
        funnel=FUNNEL_COUNTS,
        trend=metrics.trend(),
        waits=metrics.provider_waits(),
    )


@bp.get("/bounces")
@login_required("metrics.read")
def bounce_review():
    weeks, rows = metrics.bounce_review()
    series = [{"label": r.reason, "values": r.per_week} for r in rows if r.total]
    chart = {"bounces": {"labels": [w.isoformat() for w in weeks], "series": series}}
    return render_template("metrics/bounces.html", weeks=weeks, rows=rows, chart=chart)


def _pack():
    month = _month()
    current = metrics.district_figures(month)
    previous = metrics.district_figures(month.previous())
    return current, previous, metrics.governance_rows(current, previous)


@bp.get("/governance")
@login_required("metrics.read")
def governance():
    current, previous, rows = _pack()
    return render_template(
        "metrics/governance.html",
        current=current,
        previous=previous,
        rows=rows,
        metrics=METRICS,
        headline=HEADLINE,
    )


@bp.get("/governance.csv")
@login_required("metrics.read")
def governance_csv():
    current, _previous, rows = _pack()
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        fieldnames=[
            "breakdown",
            "group",
            "metric",
            "key",
            "this_month",
            "previous_month",
            "change",
        ],
    )
    writer.writeheader()
    writer.writerows(rows)
    name = f"governance-{current.month.label}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---------------------------------------------------------------- audit samples


@bp.route("/audits", methods=["GET", "POST"])
@login_required("audit.sample")
def audits():
    errors, status = {}, 200
    form = {
        "quarter": audit_samples.current_quarter(utcnow().date()),
        "size": "15",
        "seed": "",
    }
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in form}
        try:
            sample = audit_samples.draw_sample(
                form["quarter"], size=_int(form["size"], "size"), seed=_seed(form["seed"])
            )
            return redirect(url_for("metrics.audit_sample", auditsample_id=sample.id))
        except BatonError as exc:
            errors, status = exc.fields or {"form": exc.detail}, exc.status
    return render_template(
        "metrics/audits.html", samples=audit_samples.list_samples(), form=form, errors=errors
    ), status


def _int(text: str, field: str) -> int:
    if not text.isdigit():
        raise InvalidInput(fields={field: "a whole number"})
    return int(text)


def _seed(text: str) -> int | None:
    return _int(text, "seed") if text else None


@bp.get("/audits/<uuid:auditsample_id>")
@login_required("audit.sample")
def audit_sample(auditsample_id):
    return _audit_page(*audit_samples.access_sample(auditsample_id))


def _audit_page(sample, cases, errors=None, status=200):
    return render_template(
        "metrics/audit.html",
        sample=sample,
        cases=cases,
        findings=audit_samples.FINDINGS,
        errors=errors or {},
    ), status


@bp.post("/audits/<uuid:auditsample_id>/cases/<uuid:auditcase_id>")
@login_required("audit.sample")
def record_finding(auditsample_id, auditcase_id):
    sample, cases = audit_samples.access_sample(auditsample_id)
    if auditcase_id not in {c.id for c in cases}:
        raise NotFound("No such audit case")
    try:
        audit_samples.record_finding(
            auditcase_id, finding=request.form.get("finding", ""), notes=request.form.get("notes")
        )
    except InvalidInput as exc:
        return _audit_page(sample, cases, {auditcase_id: exc.fields}, exc.status)
    anchor = f"#case-{auditcase_id}"
    return redirect(url_for("metrics.audit_sample", auditsample_id=sample.id) + anchor)
