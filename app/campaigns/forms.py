from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..models import SmsTemplate, utcnow
from ..shop_calendar import shop_time_to_utc, to_shop_time

NOW, LATER = "now", "later"
# How far ahead a campaign may be set: further is taken for a typing mistake (a year typed wrong).
MAX_AHEAD = timedelta(days=366)


class CampaignForm(FlaskForm):
    """A campaign's name, template and time; its audience is the registry's filters
    (app.forms.CustomerFilterForm), posted with it."""

    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=100)])
    template_id = SelectField(_l("Template"), coerce=int, validate_choice=True)
    when = RadioField(_l("When"), choices=[(NOW, _l("Now")), (LATER, _l("At a set time"))], default=NOW)
    send_at = DateTimeLocalField(
        _l("Send at"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        description=_l("Shop time. Messages leave at the next opening of a send window from then."),
        render_kw={"step": 60},
    )

    @classmethod
    def with_templates(cls, templates: list[SmsTemplate], **kwargs) -> "CampaignForm":
        form = cls(**kwargs)
        form.template_id.choices = [(t.id, t.name) for t in templates]
        return form

    def validate_template_id(self, field):
        if not field.choices:
            raise ValidationError(
                _l("There is no SMS template to send yet: write one on the SMS templates page first.")
            )

    def validate_send_at(self, field):
        if self.when.data != LATER:
            field.errors[:] = []  # a value left in the hidden field is no time of this campaign
            return
        if field.data is None:
            if not "".join(field.raw_data or []).strip():  # left empty: not an unreadable time
                field.errors[:] = []
                raise ValidationError(_l("Choose the day and time to send."))
            return
        # Compared on the shop's clock: a time in year 1 or 9999 never becomes UTC (it overflows).
        local_now = to_shop_time(utcnow()).replace(tzinfo=None, second=0, microsecond=0)
        if field.data <= local_now:
            raise ValidationError(_l("This time has passed: choose a later one, or send now."))
        if field.data > local_now + MAX_AHEAD:
            raise ValidationError(_l("Choose a time within a year from now."))

    def send_at_utc(self) -> datetime | None:
        """The chosen time as naive UTC; None for now."""
        return shop_time_to_utc(self.send_at.data) if self.when.data == LATER else None
