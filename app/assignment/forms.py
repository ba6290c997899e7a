from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectField
from wtforms.validators import DataRequired, ValidationError

from ..forms import UNASSIGNED
from ..params import is_id, whole_number
from .services import Handover


class CustomerIdsField(Field):
    """The ticked customers: every value of the checkboxes named like the field, as ids."""

    def process_formdata(self, valuelist):
        self.data = []
        ids = [whole_number(value) for value in valuelist]
        for value, number in zip(valuelist, ids, strict=True):
            if not is_id(number):
                raise ValueError(_("Not a customer ID: %(value)s", value=value[:20]))
        self.data = sorted(set(ids))


class AssignForm(FlaskForm):
    ids = CustomerIdsField()
    # Its own id: the filters above have an "owner" field too.
    owner = SelectField(
        _l("Give them to"),
        id="assign-owner",
        default="",
        validators=[DataRequired(message=_l("Choose who gets them."))],
        invalid_choice_message=_l("Choose an active sales person, or nobody."),
    )
    # Which button was pressed: the ticked customers, or all the filters match.
    scope = SelectField(choices=[("checked", ""), ("all", "")], default="checked")

    def validate_ids(self, field):
        if self.scope.data == "checked" and not field.data and not field.errors:
            raise ValidationError(_l("Tick the customers to assign, or assign all the matching ones."))

    def owner_id(self) -> int | None:
        return None if self.owner.data == UNASSIGNED else int(self.owner.data)


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
