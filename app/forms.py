"""Form pieces that more than one area uses: a phone field, a day field, choices of sales staff, filters.

Each area keeps its own forms in its `forms.py`; areas share only what is here.
"""

import phonenumbers
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from . import phones
from .labels import LAYER_LABELS, SOURCE_LABELS, TIER_LABELS
from .models import User
from .params import FIRST_DAY, LAST_DAY
from .search import MAX_QUERY

UNASSIGNED = "none"  # the owner choice "nobody": unowned customers in a filter, unassigning in a form
SORT_LABELS = {"recent": _l("Last order"), "spend": _l("Total spend"), "name": _l("Name"), "created": _l("Newest")}


def label_choices(labels: dict, blank=None) -> list:
    """Select choices from a labels dict, after a blank choice when one is given."""
    items = list(labels.items())
    return [("", blank)] + items if blank is not None else items


def owner_choices(people: list[User], *first: tuple[str, str]) -> list[tuple[str, str]]:
    """Choices of a person (an owner): the `first` ones (say, ("", "Anyone")), then each of `people`."""
    return [*first] + [(str(person.id), _person_label(person)) for person in people]


def _person_label(person: User) -> str:
    return person.display_name if person.active else _("%(name)s (inactive)", name=person.display_name)


class PhoneField(StringField):
    """A phone typed any usual way; `data` becomes E.164 once validated."""

    def _value(self):
        # A stored (E.164) number reads in the local form, as everywhere else; a typed one as typed.
        if self.data and self.data.startswith("+") and not self.errors:
            try:
                return phones.display(self.data, current_app.config["PHONE_REGION"])
            except phonenumbers.NumberParseException:
                pass
        return super()._value()

    def pre_validate(self, form):
        if self.data:
            try:
                self.data = phones.normalize(self.data, current_app.config["PHONE_REGION"])
            except phones.InvalidPhone:
                raise ValidationError(_l("Not a valid mobile number. Type 11 digits, e.g. 138 1234 5678.")) from None


class DayField(DateField):
    """A day between FIRST_DAY and LAST_DAY (app.params); the browser's date picker offers no other."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"min": FIRST_DAY.isoformat(), "max": LAST_DAY.isoformat()})
        super().__init__(label, validators, **kwargs)

    def pre_validate(self, form):
        if self.data is not None and not FIRST_DAY <= self.data <= LAST_DAY:
            raise ValidationError(
                _("Choose a day from %(first)s to %(last)s.", first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
            )


class FilterForm(FlaskForm):
    """A list's filters, read from the query string (no CSRF: reading changes nothing)."""

    class Meta:
        csrf = False

    def filter_values(self) -> dict:
        """The filters to apply: the valid ones; an invalid one shows its error and is ignored."""
        if not self.validate():
            for field in self:
                if field.errors:
                    field.data = field.default
        return {name: value for name, value in self.data.items() if value}


class CustomerFilterForm(FilterForm):
    """The registry's search box and filters, read from the query string (the list, assignment)."""

    q = StringField(
        _l("Search"),
        validators=[Length(max=MAX_QUERY, message=_l("Search for at most %(max)d characters."))],
        render_kw={"maxlength": MAX_QUERY},
    )
    owner = SelectField(_l("Owner"), validators=[Optional()])
    layer = SelectField(_l("Layer"), choices=label_choices(LAYER_LABELS, _l("Any layer")), validators=[Optional()])
    tier = SelectField(_l("Tier"), choices=label_choices(TIER_LABELS, _l("Any tier")), validators=[Optional()])
    province = StringField(_l("Province"), validators=[Optional(), Length(max=30)])
    source = SelectField(_l("Source"), choices=label_choices(SOURCE_LABELS, _l("Any source")), validators=[Optional()])
    last_order_from = DayField(_l("Last order from"), validators=[Optional()])
    last_order_to = DayField(_l("Last order to"), validators=[Optional()])
    sort = SelectField(_l("Sort by"), choices=label_choices(SORT_LABELS), default="recent", validators=[Optional()])

    @classmethod
    def from_args(cls, args, people: list[User]) -> "CustomerFilterForm":
        """The filters in `args`; the owner is one of `people`, anyone, or nobody."""
        form = cls(args)
        form.owner.choices = owner_choices(people, ("", _("Anyone")), (UNASSIGNED, _("Unassigned")))
        return form
