"""HTML forms (Flask-WTF: CSRF on every one)."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from baton.platform.models.students import CONTACT_CHANNELS, GRADES
from baton.platform.services.provisioning import EMAIL


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


LANGUAGES = choices(
    [
        ("en", "English"),
        ("es", "Spanish"),
        ("vi", "Vietnamese"),
        ("so", "Somali"),
        ("ar", "Arabic"),
        ("zh", "Chinese"),
    ]
)


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class LogoutForm(FlaskForm):
    pass


class StudentForm(FlaskForm):
    local_id = StringField("District student ID", validators=[DataRequired(), Length(max=64)])
    first_name = StringField("First name", validators=[DataRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[DataRequired(), Length(max=100)])
    birth_date = DateField("Date of birth", validators=[DataRequired()])
    grade = SelectField("Grade", choices=choices((g, g) for g in GRADES))
    school_id = SelectField("School", validators=[DataRequired()])
    preferred_language = SelectField("Family's preferred language", choices=LANGUAGES)
    disability_or_iep = BooleanField("Has a disability or an IEP/504 plan")


class CaregiverForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    relationship_to_student = SelectField(
        "Relationship",
        choices=choices(
            (r, r.title()) for r in ("parent", "guardian", "grandparent", "foster", "other")
        ),
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    # Not wtforms' Email(): it needs the optional email_validator package.
    email = EmailField(
        "E-mail",
        validators=[Optional(), Regexp(EMAIL, message="Invalid email address."), Length(max=254)],
    )
    preferred_language = SelectField("Preferred language", choices=LANGUAGES)
    allowed_channels = SelectMultipleField(
        "Channels it is safe to use",
        choices=choices((c, c) for c in CONTACT_CHANNELS),
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
    )
    safe_times = StringField("Safe times to contact", validators=[Optional(), Length(max=200)])
    do_not_call = BooleanField("Do not call")
    no_voicemail = BooleanField("Do not leave voicemail")
