from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from ..assignment.services import Handover
from ..labels import ROLE_LABELS


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me signed in"))


class UserForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Letters, digits, dot, dash and underscore only.")),
        ],
    )
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role"), choices=list(ROLE_LABELS.items()))
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=8, message=_l("At least 8 characters."))]
    )


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=8, message=_l("At least 8 characters."))]
    )


class HandoverForm(FlaskForm):
    """Where a leaving user's customers go."""

    how = RadioField(
        _l("Their customers"),
        choices=[
            (Handover.PERSON, _l("Hand them all to one sales person")),
            (Handover.SPREAD, _l("Spread them over the other sales staff, balanced by their open follow-ups")),
            (Handover.UNASSIGN, _l("Leave them unassigned, for a supervisor to assign")),
        ],
        invalid_choice_message=_l("Choose what happens to their customers."),
    )
    to = SelectField(_l("Sales person"), default="", invalid_choice_message=_l("Choose an active sales person."))

    def validate_to(self, field):
        if self.how.data == Handover.PERSON and not field.data:
            raise ValidationError(_l("Choose who takes them over."))
