from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.validators import Optional, ValidationError

from ..forms import DayField
from ..labels import KIND_LABELS
from . import services
from .services import CustomerFilters, Period

QUICK_PERIOD_LABELS = {
    "this_week": _l("This week"),
    "last_4_weeks": _l("Last 4 weeks"),
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "last_90_days": _l("Last 90 days"),
}

STAGE_LABELS = {
    **KIND_LABELS,
    services.LOST: _l("Lost"),
    services.STOPPED: _l("Do not contact"),
    services.UNASSIGNED: _l("Unassigned"),
    services.NO_TASK: _l("No open task"),
}


class PeriodForm(FlaskForm):
    """The period audited, from the query string: shop-calendar days, both included."""

    class Meta:
        csrf = False

    start = DayField(_l("From"), name="from", validators=[Optional()])
    end = DayField(_l("To"), name="to", validators=[Optional()])

    def __init__(self, formdata, today: date):
        self.default = services.default_period(today)
        # A day left out means the default period's.
        super().__init__(formdata, start=self.default.start, end=self.default.end)

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        chosen = self._chosen()
        if chosen.start > chosen.end:
            self.start.errors.append(_("The period must start on or before its last day."))
            return False
        if chosen.days > services.MAX_DAYS:
            self.end.errors.append(
                _(
                    "A period can be at most %(days)d days long. Choose a later start or an earlier end.",
                    days=services.MAX_DAYS,
                )
            )
            return False
        return True

    def _chosen(self) -> Period:
        return Period(self.start.data or self.default.start, self.end.data or self.default.end)

    def period(self) -> Period:
        """The period asked for, or the default one when the form has an error."""
        return self._chosen() if self.validate() else self.default


class CustomerAuditForm(FlaskForm):
    """The per-customer audit's filters, from the query string."""

    class Meta:
        csrf = False

    owner = SelectField(_l("Owner"), default="", validators=[Optional()])
    stage = SelectField(
        _l("Stage"),
        choices=[("", _l("Any open task"))] + list(STAGE_LABELS.items()),
        default="",
        validators=[Optional()],
    )
    overdue = BooleanField(_l("Overdue only"))

    def validate_overdue(self, field):
        if field.data and self.stage.data not in ("", *KIND_LABELS):
            raise ValidationError(_("Only a customer with an open task can be overdue."))

    def filters(self) -> CustomerFilters:
        """The valid filters; an invalid one shows its error and is left out."""
        if not self.validate():
            for field in self:
                if field.errors:
                    field.data = field.default
        return CustomerFilters(
            owner=int(self.owner.data) if self.owner.data else None,
            stage=self.stage.data or "",
            overdue=bool(self.overdue.data),
        )
