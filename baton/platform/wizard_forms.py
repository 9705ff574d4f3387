"""Forms of the new-referral wizard: the triage form is built from the district's checklist."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from baton.platform.forms import LANGUAGES, choices
from baton.platform.models.orgs import INSURANCE, MODALITIES, SERVICE_TYPES
from baton.platform.referral_forms import labelled
from baton.platform.services.consent import METHODS, SHARE_CLASSES
from baton.platform.services.triage import SOURCES

YES_NO = choices([("yes", "Yes"), ("no", "No")])
ANY = choices([("", "Any")])
WITHIN_MILES = ("5", "10", "25", "50")


def checkbox_list(label, values, **kw):
    return SelectMultipleField(
        label,
        choices=labelled(values),
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
        **kw,
    )


def triage_form(checklist, formdata=None):
    """A form with one yes/no question per checklist item and high-need criterion."""

    class TriageForm(FlaskForm):
        source = SelectField("Where the concern came from", choices=labelled(SOURCES))
        summary = TextAreaField(
            "What was observed (no clinical notes)", validators=[Optional(), Length(max=500)]
        )

    for q in checklist.questions:
        setattr(TriageForm, f"q_{q['key']}", _yes_no(q["text"]))
    for c in checklist.high_need_criteria:
        setattr(TriageForm, f"h_{c['key']}", _yes_no(c["text"]))
    return TriageForm(formdata=formdata) if formdata is not None else TriageForm()


def _yes_no(text):
    return RadioField(text, choices=YES_NO, validators=[InputRequired(message="Answer yes or no.")])


class SearchForm(FlaskForm):
    """The directory filters (GET, so no CSRF: nothing changes)."""

    class Meta:
        csrf = False

    language = SelectField("Language", choices=[*ANY, *LANGUAGES], validators=[Optional()])
    modality = SelectField(
        "Modality", choices=[*ANY, *labelled(MODALITIES)], validators=[Optional()]
    )
    insurance = SelectField(
        "Insurance", choices=[*ANY, *labelled(INSURANCE)], validators=[Optional()]
    )
    service_type = SelectField(
        "Service", choices=[*ANY, *labelled(SERVICE_TYPES)], validators=[Optional()]
    )
    max_wait = SelectField(
        "Current wait",
        choices=choices([("", "Any"), ("7", "A week or less"), ("14", "Two weeks or less")]),
        default="",
        validators=[Optional()],
    )
    on_campus = BooleanField("Seen at school (on campus)")
    near_school_id = SelectField("Distance from", choices=[], default="")
    within_miles = SelectField(
        "Within",
        choices=choices([("", "Any distance"), *((m, f"{m} miles") for m in WITHIN_MILES)]),
        default="",
    )
    sort = SelectField(
        "Order",
        choices=choices([("wait", "Shortest wait first"), ("distance", "Nearest first")]),
        default="wait",
    )


class ConsentForm(FlaskForm):
    consenter = RadioField(
        "Who consents",
        choices=choices(
            [("caregiver", "A caregiver"), ("student", "The student (where policy allows)")]
        ),
        default="caregiver",
    )
    caregiver_id = SelectField("Caregiver", validators=[Optional()])
    share_classes = checkbox_list(
        "What may be shared with the provider",
        SHARE_CLASSES,
        validators=[DataRequired(message="Choose at least one thing to share.")],
    )
    method = SelectField("How consent was given", choices=labelled(METHODS))
    witness = StringField("Witness (for verbal consent)", validators=[Optional(), Length(max=200)])
    expires_on = DateField("Expires on (optional)", validators=[Optional()])


HANDOFF_STEPS = (
    ("explained", "Explained to the family what the provider does and what happens next"),
    ("contact_confirmed", "Confirmed the family's phone, safe channels and safe times"),
    ("route_used", "Using the provider's single intake route now, with the family here"),
    ("who_to_call", "Told the family who to call if something gets in the way"),
)


class HandoffForm(FlaskForm):
    caregiver_present = BooleanField("The caregiver is here for the warm handoff")
    explained = BooleanField(HANDOFF_STEPS[0][1])
    contact_confirmed = BooleanField(HANDOFF_STEPS[1][1])
    route_used = BooleanField(HANDOFF_STEPS[2][1])
    who_to_call = BooleanField(HANDOFF_STEPS[3][1])
    reason_text = TextAreaField(
        "Referral reason for the provider (shared only if consented)",
        validators=[Optional(), Length(max=500)],
    )


class CrisisStepForm(FlaskForm):
    action = SelectField("Step taken", validators=[DataRequired()])
    role = SelectField("In the role of", validators=[DataRequired()])
    note = StringField("Note (no clinical detail)", validators=[Optional(), Length(max=300)])


class CrisisCloseForm(FlaskForm):
    return_to_school_plan = TextAreaField(
        "Return-to-school plan",
        validators=[DataRequired(message="Write the return-to-school plan."), Length(max=1000)],
    )
