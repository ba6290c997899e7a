"""The forms of the message log and of sending one message (the templates' forms are in forms.py)."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import DayField, label_choices
from ..labels import MESSAGE_STATUS_LABELS
from ..models import MessageStatus
from ..search import MAX_QUERY
from .log import SETTLED_AS, LogFilters

SETTLE_NOTE_MAX = 300


class MessageFilterForm(FlaskForm):
    """The log's search box and filters, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Search"),
        validators=[Length(max=MAX_QUERY, message=_l("Search for at most %(max)d characters."))],
        render_kw={"maxlength": MAX_QUERY},
    )
    template = SelectField(_l("Template"), validators=[Optional()])
    status = SelectField(
        _l("State"), choices=label_choices(MESSAGE_STATUS_LABELS, _l("Any state")), validators=[Optional()]
    )
    day_from = DayField(_l("From"), name="from", validators=[Optional()])
    day_to = DayField(_l("To"), name="to", validators=[Optional()])

    @classmethod
    def from_args(cls, args, templates: list[tuple[int, str]]) -> "MessageFilterForm":
        form = cls(args)
        form.template.choices = [("", _l("Any template"))] + [(str(i), name) for i, name in templates]
        return form

    def validate_day_to(self, field):
        if field.data and self.day_from.data and field.data < self.day_from.data:
            raise ValidationError(_l("Choose a day on or after the first one."))

    def filters(self) -> LogFilters:
        """The valid filters; an invalid one shows its error and is left out."""
        if not self.validate():
            for field in self:
                if field.errors:
                    field.data = field.default
        return LogFilters(
            q=self.q.data or "",
            template=int(self.template.data) if self.template.data else None,
            status=self.status.data or "",
            day_from=self.day_from.data,
            day_to=self.day_to.data,
        )


class SettleForm(FlaskForm):
    """What an admin found out about a message whose outcome is unknown: one of the buttons, and why."""

    outcome = SelectField(
        _l("Outcome"),
        choices=[(s.value, MESSAGE_STATUS_LABELS[s]) for s in SETTLED_AS],
        validators=[DataRequired(_l("Choose whether it was sent or failed."))],
    )
    note = TextAreaField(
        _l("How you know"),
        validators=[
            DataRequired(_l("Say how you know, e.g. what the provider's console shows.")),
            Length(max=SETTLE_NOTE_MAX),
        ],
    )

    def settled_as(self) -> MessageStatus:
        return MessageStatus(self.outcome.data)


_KEY = re.compile(r"[0-9a-f]{32}")  # uuid4().hex


class SendForm(FlaskForm):
    """One message to one customer: the template, and the form's one-time key (made when the form
    is shown), which makes a second submission of the same form send nothing."""

    template = SelectField(_l("Template"), validators=[DataRequired(_l("Choose a template."))])
    key = HiddenField()
    follow_up = HiddenField()  # the queue card's task it was sent from, if any

    def validate_key(self, field):
        if not _KEY.fullmatch(field.data or ""):
            raise ValidationError(_l("This form is out of date: open it again."))
