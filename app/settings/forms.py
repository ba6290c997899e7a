from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField
from wtforms.validators import ValidationError

from ..forms import label_choices
from ..labels import MESSAGE_KIND_LABELS, WEEKDAY_LABELS
from ..models import MessageKind
from ..params import FIRST_DAY, LAST_DAY, whole_number
from ..sending import windows
from ..sending.settings import Settings
from ..sending.windows import BadWindows, WeekWindows

# The form's field of each weekday, Monday first (app.sending.windows numbers them so).
DAY_FIELDS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_DAY_TEXT = 200  # 12 windows, typed with room to spare
MAX_CAP = 100  # marketing messages a customer may get in the period
MAX_CAP_DAYS = 365


class WindowsField(StringField):
    """One weekday's windows as typed ("09:30-12:00, 14:00-18:00"); `windows` once validated."""

    windows: tuple = ()

    def process_formdata(self, valuelist):
        self.data = valuelist[0] if valuelist else ""  # a posted form without it: no window that day

    def pre_validate(self, form):
        typed = self.data or ""
        if len(typed) > MAX_DAY_TEXT:
            raise ValidationError(_("Type at most %(max)d characters.", max=MAX_DAY_TEXT))
        try:
            self.windows = windows.parse_day(typed)
        except BadWindows as error:
            raise ValidationError(str(error)) from None


class CountField(IntegerField):
    """A whole number from `low` to `high`; anything else is refused by the field with one message."""

    def __init__(self, label, low: int, high: int, **kwargs):
        kwargs.setdefault("render_kw", {"min": low, "max": high, "inputmode": "numeric"})
        super().__init__(label, **kwargs)
        self.low, self.high = low, high

    def process_formdata(self, valuelist):
        self.data = whole_number(valuelist[0]) if valuelist else None

    def pre_validate(self, form):
        if self.data is None or not self.low <= self.data <= self.high:
            raise ValidationError(_("Type a whole number from %(low)d to %(high)d.", low=self.low, high=self.high))


class SendingForm(FlaskForm):
    """The shop's send windows, one field per weekday, and the marketing frequency cap."""

    monday = WindowsField(WEEKDAY_LABELS[0])
    tuesday = WindowsField(WEEKDAY_LABELS[1])
    wednesday = WindowsField(WEEKDAY_LABELS[2])
    thursday = WindowsField(WEEKDAY_LABELS[3])
    friday = WindowsField(WEEKDAY_LABELS[4])
    saturday = WindowsField(WEEKDAY_LABELS[5])
    sunday = WindowsField(WEEKDAY_LABELS[6])
    marketing_cap = CountField(_l("At most"), 1, MAX_CAP)
    cap_days = CountField(_l("In how many days"), 1, MAX_CAP_DAYS)

    @classmethod
    def of(cls, saved: Settings) -> "SendingForm":
        """The form, showing `saved` until something is posted."""
        typed = {name: windows.text(saved.windows.get(day, ())) for day, name in enumerate(DAY_FIELDS)}
        return cls(**typed, marketing_cap=saved.marketing_cap, cap_days=saved.cap_days)

    def day_fields(self) -> list:
        return [self[name] for name in DAY_FIELDS]

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not any(self.week().values()):
            self.form_errors.append(
                _("Open at least one window in the week: without one, no message would ever leave.")
            )
            return False
        return True

    def week(self) -> WeekWindows:
        return {day: self[name].windows for day, name in enumerate(DAY_FIELDS)}


class ShopTimeField(DateTimeLocalField):
    """A time on the shop's clock, from FIRST_DAY to LAST_DAY (app.params)."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"])
        kwargs.setdefault("invalid_value_message", _l("Choose a day and a time, e.g. 2025-06-03 19:00."))
        kwargs.setdefault("render_kw", {"min": f"{FIRST_DAY}T00:00", "max": f"{LAST_DAY}T23:59"})
        super().__init__(label, validators, **kwargs)

    def pre_validate(self, form):
        if self.data is not None and not FIRST_DAY <= self.data.date() <= LAST_DAY:
            raise ValidationError(
                _("Choose a time from %(first)s to %(last)s.", first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
            )


class WhenForm(FlaskForm):
    """ "A message queued at … leaves at …": the question, from the query string."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Message"), choices=label_choices(MESSAGE_KIND_LABELS), default=MessageKind.MARKETING.value)
    at = ShopTimeField(_l("Queued at (shop time)"))

    def asked(self) -> bool:
        return bool(self.at.raw_data)

    def queued(self) -> datetime | None:
        """The time asked about (naive, shop time), once the question is valid."""
        return self.at.data if self.asked() and self.validate() else None
