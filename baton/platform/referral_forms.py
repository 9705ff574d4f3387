"""Forms on the referral page and in the provider portal: one per action (CSRF on each)."""

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from baton.platform import lifecycle
from baton.platform.forms import choices
from baton.platform.models.students import CONTACT_CHANNELS
from baton.platform.services.contact import OUTCOMES
from baton.platform.services.navigation import BARRIERS, SUPPORTS


def _label(value: str) -> str:
    return value.replace("-", " ").capitalize()


def labelled(values) -> list:
    return choices((v, _label(v)) for v in values)


class ActionForm(FlaskForm):
    """Every referral action carries the version it was shown at (a stale page gets 412)."""

    action = HiddenField()
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        """A hidden field shows no message of its own: a bad one is said above the form."""
        valid = super().validate(extra_validators)
        if self.version.errors or self.action.errors:
            self.form_errors.append("This form was changed or is out of date; reload the page.")
        return valid


class AttemptForm(ActionForm):
    caregiver_id = SelectField("Caregiver", validators=[DataRequired()])
    channel = SelectField("Channel", choices=labelled(CONTACT_CHANNELS))
    outcome = SelectField("Outcome", choices=labelled(OUTCOMES))


class BounceForm(ActionForm):
    reason = SelectField("Bounce reason", choices=labelled(lifecycle.BOUNCE_REASONS))
    next_action = StringField(
        "Next action (blank: the reason's suggested fix)", validators=[Optional(), Length(max=300)]
    )


class BarrierForm(ActionForm):
    kind = SelectField("Barrier", choices=labelled(BARRIERS))
    support = SelectField(
        "Support given", choices=[*choices([("", "None yet")]), *labelled(SUPPORTS)]
    )


class EscalateForm(ActionForm):
    reason = StringField("Why it needs the lead", validators=[DataRequired(), Length(max=300)])


class StatusForm(ActionForm):
    status = SelectField("New status", validators=[DataRequired()])
    reason = StringField("Reason", validators=[Optional(), Length(max=300)])
    redirected_to = StringField("Redirected to", validators=[Optional(), Length(max=300)])


class ScheduleForm(ActionForm):
    appointment_at = DateTimeLocalField(
        "Intake date and time (district's local time)",
        format="%Y-%m-%dT%H:%M",
        validators=[DataRequired(message="Enter the date and time of the intake.")],
    )
    place = StringField("Place", validators=[Optional(), Length(max=300)])
    link = StringField("Video link", validators=[Optional(), Length(max=500)])
    what_to_bring = StringField("What to bring", validators=[Optional(), Length(max=500)])
    family_contact = StringField(
        "Who the family calls about barriers", validators=[Optional(), Length(max=200)]
    )


class ConfirmForm(ActionForm):
    """Actions with nothing to fill in (resume, revoke links)."""


class RetryForm(ActionForm):
    """Send one of the referral's failed FHIR deliveries again (district admins). The
    choices are its failed deliveries: any other id (one retried meanwhile) is refused."""

    message_id = SelectField("Failed delivery", validate_choice=False)

    def validate_message_id(self, field) -> None:
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(
                "This delivery is not failed any more (already retried or delivered). "
                "Reload the page to see where it is."
            )


class RevokeConsentForm(ActionForm):
    reason = StringField("Why consent was withdrawn", validators=[Optional(), Length(max=300)])


class DeclineForm(ActionForm):
    reason = SelectField("Decline reason", choices=labelled(lifecycle.DECLINE_REASONS))


class RedirectForm(ActionForm):
    redirected_to = StringField(
        "Where the family was redirected", validators=[DataRequired(), Length(max=300)]
    )


class DisengagedForm(ActionForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=300)])


class CloseForm(ActionForm):
    status = SelectField("Closure", choices=labelled(lifecycle.PROVIDER_CLOSURES))
    reason = StringField("Reason", validators=[Optional(), Length(max=300)])


class NoteForm(FlaskForm):
    resolution = SelectField(
        "Resolution",
        choices=choices([("connected", "Connected"), ("alternative-plan", "Alternative plan")]),
    )
    note = TextAreaField("What was done", validators=[Optional(), Length(max=300)])
