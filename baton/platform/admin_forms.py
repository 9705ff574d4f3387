"""Forms of the district admin pages."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from baton.platform.services.provisioning import EMAIL


class StaffForm(FlaskForm):
    email = EmailField(
        "E-mail",
        validators=[
            DataRequired(),
            Regexp(EMAIL, message="Invalid email address."),
            Length(max=254),
        ],
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", validators=[DataRequired()])
    password = PasswordField(
        "First password (new accounts; at least 12 characters)",
        validators=[Optional(), Length(max=200)],
    )


class RemoveRoleForm(FlaskForm):
    membership_id = StringField(validators=[DataRequired()])


def _coordinate(label):
    # Text, not a number field: the service checks the value and explains what is wrong.
    return StringField(label, validators=[Optional(), Length(max=40)])


class LocationForm(FlaskForm):
    """Where something is: both coordinates (decimal degrees) or neither."""

    latitude = _coordinate("Latitude (e.g. 41.9123)")
    longitude = _coordinate("Longitude (e.g. -88.0456)")


class SchoolForm(LocationForm):
    name = StringField("School name", validators=[DataRequired(), Length(max=200)])
    code = StringField("School code", validators=[DataRequired(), Length(max=32)])


class ServiceSiteForm(LocationForm):
    """A provider admin's form for one service's site (blank everywhere: no site)."""

    service_id = HiddenField(validators=[DataRequired()])
    site_address = StringField("Site address", validators=[Optional(), Length(max=300)])


class PartnershipForm(FlaskForm):
    active = BooleanField("Active")


def _hours(label, lo, hi):
    return IntegerField(label, validators=[DataRequired(), NumberRange(min=lo, max=hi)])


class SettingsForm(FlaskForm):
    contact_standard_hours = _hours("Contact standard (hours)", 1, 336)
    high_need_schedule_days = _hours("High-need intake scheduled within (days)", 1, 60)
    bounce_after_days = _hours("Bounce decision on day", 2, 30)
    day1_attempts = _hours("Attempts on day 1", 1, 10)
    day2_attempts = _hours("Attempts on day 2", 1, 10)
    count_weekends = BooleanField("Weekends count toward the clocks")
    count_holidays = BooleanField("School holidays count toward the clocks")
    student_may_consent = BooleanField("Students may consent on their own (where the law allows)")
    designated_lead_id = SelectField("Designated escalation lead", validators=[Optional()])
